// SyncBatchNorm across the ranks against BatchNorm over the concatenated batch (float64), with
// uneven and empty per-rank batches, and a cross-rank central-difference gradient check.
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/random.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/sync_batch_norm.hpp"
#include "tests/dist/dist_helpers.hpp"

using namespace nl;
using namespace nl::testing;

namespace {

struct Setup {
  std::vector<int64_t> counts;
  int64_t total = 0, mine = 0, offset = 0;
  Tensor x, dy;  // global (total, C, 3, 2), float64
};

Setup make_setup(std::vector<int64_t> counts, int64_t c) {
  Setup s;
  s.counts = std::move(counts);
  for (int r = 0; r < int(s.counts.size()); ++r) {
    if (r < comm().rank()) s.offset += s.counts[r];
    s.total += s.counts[r];
  }
  s.mine = s.counts[comm().rank()];
  Generator g(42);
  // Offset data (mean 3, std 2): the pooled variance must not lose digits to the mean.
  s.x = Tensor::randn({s.total, c, 3, 2}, g, DType::f64) * 2.0 + 3.0;
  s.dy = Tensor::randn({s.total, c, 3, 2}, g, DType::f64);
  return s;
}

template <typename Norm>
void set_affine(Norm& bn) {
  Generator g(7);
  bn.weight.copy_(Tensor::randn(bn.weight.shape(), g, DType::f64) + 1.0);
  bn.bias.copy_(Tensor::randn(bn.bias.shape(), g, DType::f64));
}

// One training step of a SyncBatchNorm on this rank's rows against BatchNorm on all rows.
void check_against_batch_norm(const std::vector<int64_t>& counts) {
  const int64_t c = 4;
  Setup s = make_setup(counts, c);
  auto ref = std::make_shared<BatchNorm>(c);
  auto sbn = std::make_shared<SyncBatchNorm>(c, BatchNormOptions{}, dist::world_groups(0));
  ref->to(DType::f64);
  sbn->to(DType::f64);
  set_affine(*ref);
  set_affine(*sbn);

  Tensor xr = s.x.detach().clone().requires_grad_();
  Tensor yr = (*ref)(xr);
  sum(yr * s.dy).backward();

  Tensor xs = rows(s.x, s.offset, s.mine).requires_grad_();
  Tensor ys = (*sbn)(xs);
  sum(ys * rows(s.dy, s.offset, s.mine)).backward();

  INFO("rank ", comm().rank(), " of ", comm().size(), ", ", s.mine, " of ", s.total, " samples");
  CHECK(max_abs_diff(ys, rows(yr, s.offset, s.mine)) < 1e-12);
  REQUIRE(xs.grad().defined());
  CHECK(max_abs_diff(xs.grad(), rows(xr.grad(), s.offset, s.mine)) < 1e-12);
  // The affine gradients are per-rank sums: their sum over the ranks is BatchNorm's.
  CHECK(max_abs_diff(summed_over_ranks(sbn->weight.grad()), ref->weight.grad()) < 1e-11);
  CHECK(max_abs_diff(summed_over_ranks(sbn->bias.grad()), ref->bias.grad()) < 1e-11);
  // Running statistics from the pooled batch: the same on every rank, equal to BatchNorm's.
  CHECK(max_abs_diff(sbn->running.mean, ref->running.mean) < 1e-13);
  CHECK(max_abs_diff(sbn->running.var, ref->running.var) < 1e-13);
  CHECK(sbn->running.num_batches_tracked.item() == 1);
  // Eval: the running statistics, no communication (a rank may evaluate alone).
  sbn->eval();
  ref->eval();
  if (s.mine > 0) {
    NoGradGuard no_grad;
    CHECK(max_abs_diff((*sbn)(rows(s.x, s.offset, s.mine)), rows((*ref)(s.x), s.offset, s.mine)) <
          1e-12);
  }
}

}  // namespace

TEST_SUITE("dist") {
  TEST_CASE("SyncBatchNorm equals BatchNorm over the concatenated batch: uneven batches") {
    check_against_batch_norm(uneven_counts(comm().size()));
  }

  TEST_CASE("SyncBatchNorm equals BatchNorm over the concatenated batch: an empty rank") {
    std::vector<int64_t> counts(comm().size(), 2);
    counts.back() = comm().size() > 1 ? 0 : 3;
    check_against_batch_norm(counts);
  }

  TEST_CASE("SyncBatchNorm on one rank is BatchNorm to the bit") {
    Generator g(3);
    const Tensor x = Tensor::randn({6, 3, 4, 4}, g);
    auto bn = make_norm("bn", 3).module;
    auto sbn = std::make_shared<SyncBatchNorm>(3, BatchNormOptions{}, dist::single_process());
    CHECK(max_abs_diff((*bn)(x), (*sbn)(x)) == 0);
    CHECK(max_abs_diff(bn->state_dict().at("running_var"), sbn->state_dict().at("running_var")) ==
          0);
  }

  TEST_CASE("SyncBatchNorm's gradient across ranks: central differences on a random projection") {
    // f(x, gamma, beta) = sum over every rank of <w_r, y_r>; its directional derivative along a
    // random direction v (per rank, and for gamma and beta) against the analytic gradients.
    const int64_t c = 3;
    Setup s = make_setup(uneven_counts(comm().size()), c);
    auto sbn = std::make_shared<SyncBatchNorm>(c, BatchNormOptions{}, dist::world_groups(0));
    sbn->to(DType::f64);
    set_affine(*sbn);
    Generator g(11);
    const Tensor vx_all = Tensor::randn(s.x.shape(), g, DType::f64);
    const Tensor vg = Tensor::randn({c}, g, DType::f64), vb = Tensor::randn({c}, g, DType::f64);
    const Tensor x0 = rows(s.x, s.offset, s.mine), vx = rows(vx_all, s.offset, s.mine);
    const Tensor w = rows(s.dy, s.offset, s.mine);
    const Tensor g0 = sbn->weight.detach().clone(), b0 = sbn->bias.detach().clone();
    auto f = [&](double t) {
      NoGradGuard no_grad;
      sbn->weight.copy_(g0 + vg * t);
      sbn->bias.copy_(b0 + vb * t);
      std::vector<double> local = {sum((*sbn)(x0 + vx * t) * w).item()};
      comm().allreduce_sum(std::span<double>(local));
      return local[0];
    };
    const double h = 1e-5;
    const double numeric = (f(h) - f(-h)) / (2 * h);
    sbn->weight.copy_(g0);
    sbn->bias.copy_(b0);
    sbn->zero_grad();
    Tensor xs = x0.clone().requires_grad_();
    sum((*sbn)(xs)*w).backward();
    std::vector<double> analytic = {sum(xs.grad() * vx).item() +
                                    sum(sbn->weight.grad() * vg).item() +
                                    sum(sbn->bias.grad() * vb).item()};
    comm().allreduce_sum(std::span<double>(analytic));
    INFO("rank ", comm().rank(), ": numeric ", numeric, ", analytic ", analytic[0]);
    CHECK(std::abs(numeric - analytic[0]) <= 1e-7 * std::max(1.0, std::abs(numeric)));
  }

  TEST_CASE("sbn:group=G pools consecutive groups of G ranks only") {
    const int k = comm().size();
    const int gsize = k >= 2 ? 2 : 1;
    NormSlot slot = make_norm("sbn:group=" + std::to_string(gsize), 2);
    auto* sbn = dynamic_cast<SyncBatchNorm*>(slot.module.get());
    REQUIRE(sbn != nullptr);
    CHECK(sbn->comm()->size() == gsize);
    // Rank r holds the constant 10 r: a group's mean is the mean of its ranks' constants.
    Tensor x = Tensor::full({2, 2, 2, 2}, 10.0 * comm().rank());
    x = x + Tensor::arange(0, 16).reshape({2, 2, 2, 2}) * 1e-3;
    (*sbn)(x);
    const int first = (comm().rank() / gsize) * gsize;
    double expect = 0;
    for (int q = first; q < first + gsize; ++q) expect += 10.0 * q;
    expect /= gsize;
    // momentum 0.1 from 0: running_mean = 0.1 * (pooled mean of channel 0)
    const double channel0_offset = (0 + 1 + 2 + 3 + 8 + 9 + 10 + 11) / 8.0 * 1e-3;
    CHECK(sbn->running.mean.at({0}) == doctest::Approx(0.1 * (expect + channel0_offset)));
  }
}
