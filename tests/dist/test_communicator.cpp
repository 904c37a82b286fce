// The communicator's collectives across the ranks of the job (and, at one rank, the
// single-process implementation).
#include <bit>
#include <cstring>

#include "tests/dist/dist_helpers.hpp"

using namespace nl;
using nl::testing::comm;

TEST_SUITE("dist") {
  TEST_CASE("allreduce sums floats and doubles, with the same bits on every rank") {
    const int r = comm().rank(), k = comm().size();
    // Values whose sums round: the result must still be identical everywhere.
    std::vector<double> d(1000);
    std::vector<float> f(1000);
    for (size_t i = 0; i < d.size(); ++i) {
      d[i] = 0.1 * (r + 1) + 1e-3 * double(i) + 1.0 / (3.0 + double(r));
      f[i] = float(d[i]);
    }
    std::vector<double> d_sum = d;
    std::vector<float> f_sum = f;
    comm().allreduce_sum(std::span<double>(d_sum));
    comm().allreduce_sum(std::span<float>(f_sum));
    for (size_t i = 0; i < d.size(); i += 97) {
      double expect = 0;
      for (int q = 0; q < k; ++q) expect += 0.1 * (q + 1) + 1e-3 * double(i) + 1.0 / (3.0 + q);
      CHECK(d_sum[i] == doctest::Approx(expect).epsilon(1e-14));
      CHECK(f_sum[i] == doctest::Approx(expect).epsilon(1e-6));
    }
    // Every rank's result, gathered: all equal to rank 0's, bit for bit.
    const auto d_all = comm().allgather(std::span<const double>(d_sum));
    const auto f_all = comm().allgather(std::span<const float>(f_sum));
    for (int q = 1; q < k; ++q) {
      CHECK(std::memcmp(d_all.data() + q * d.size(), d_all.data(), d.size() * 8) == 0);
      CHECK(std::memcmp(f_all.data() + q * f.size(), f_all.data(), f.size() * 4) == 0);
    }
  }

  TEST_CASE("allgather concatenates in rank order") {
    const int r = comm().rank(), k = comm().size();
    const std::vector<int64_t> mine = {r, 10 * r + 1, -r};
    const auto all = comm().allgather(std::span<const int64_t>(mine));
    REQUIRE(all.size() == size_t(3 * k));
    for (int q = 0; q < k; ++q) {
      CHECK(all[3 * q] == q);
      CHECK(all[3 * q + 1] == 10 * q + 1);
      CHECK(all[3 * q + 2] == -q);
    }
  }

  TEST_CASE("broadcast copies the root's bytes to every rank") {
    const int k = comm().size();
    for (int root = 0; root < k; ++root) {
      std::vector<double> v(5, double(comm().rank()));
      comm().broadcast(std::span<double>(v), root);
      for (double x : v) CHECK(x == double(root));
    }
  }

  TEST_CASE("empty buffers are valid in every collective") {
    std::vector<double> none;
    comm().allreduce_sum(std::span<double>(none));
    std::vector<float> none_f;
    comm().allreduce_sum(std::span<float>(none_f));
    const auto gathered = comm().allgather(std::span<const double>(none));
    CHECK(gathered.empty());
    comm().broadcast(std::span<double>(none), 0);
    comm().barrier();
  }

  TEST_CASE("split gives groups of consecutive ranks") {
    const int r = comm().rank(), k = comm().size();
    const int g = k >= 2 ? 2 : 1;
    auto groups = dist::world_groups(g);
    CHECK(groups->size() == g);
    CHECK(groups->rank() == r % g);
    std::vector<double> v = {double(r)};
    groups->allreduce_sum(std::span<double>(v));
    const int first = (r / g) * g;
    double expect = 0;
    for (int q = first; q < first + g; ++q) expect += q;
    CHECK(v[0] == expect);
    if (k >= 2) {
      CHECK_THROWS_WITH_AS(dist::world_groups(k + 1),
                           doctest::Contains("must divide the number of ranks"), nl::Error);
    }
  }

  TEST_CASE("shards of a batch are disjoint, in rank order, and cover it") {
    for (int64_t global : {0, 1, 7, 8, 128, 129}) {
      for (int ranks : {1, 2, 3, 4, 8}) {
        int64_t next = 0;
        for (int r = 0; r < ranks; ++r) {
          const dist::Shard s = dist::shard_of(global, r, ranks);
          CHECK(s.begin == next);
          CHECK(s.size() >= global / ranks);
          CHECK(s.size() <= global / ranks + 1);
          next = s.end;
        }
        CHECK(next == global);
      }
    }
    CHECK_THROWS_AS(dist::shard_of(10, 2, 2), nl::Error);
  }
}
