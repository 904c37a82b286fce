// bench_comm: the communicator's speed, as data-parallel training uses it. Run under mpirun:
//   mpirun -np 2 ./build/apps/bench_comm                    # allreduce sweep 64 KiB .. 16 MiB
//   mpirun -np 4 --oversubscribe ./build/apps/bench_comm --json docs/perf/allreduce.jsonl
// For each float32 buffer size: the median time of one in-place allreduce_sum over --repeats
// runs (after warm-up), the algorithm bandwidth (bytes / time) and the bus bandwidth
// (2 (K-1)/K x bytes / time, the ring allreduce's traffic per rank, comparable across K as
// NCCL's tests report it). Then SyncBatchNorm's messages: one allgather of (1 + 2C) doubles and
// one allreduce of 2C doubles, C = 64.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "apps/common/guarded_main.hpp"
#include "core/dist/communicator.hpp"

namespace {

template <typename F>
double median_seconds(nl::dist::Communicator& comm, int repeats, F&& op) {
  for (int i = 0; i < 3; ++i) op();  // warm-up: connections, caches
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    comm.barrier();
    const auto t0 = std::chrono::steady_clock::now();
    op();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // The slowest rank's time is the collective's time.
  std::vector<double> all = comm.allgather(std::span<const double>(t));
  std::vector<double> worst(size_t(repeats), 0.0);
  for (int r = 0; r < comm.size(); ++r)
    for (int i = 0; i < repeats; ++i)
      worst[i] = std::max(worst[i], all[size_t(r) * size_t(repeats) + size_t(i)]);
  std::sort(worst.begin(), worst.end());
  return worst[worst.size() / 2];
}

int run(int argc, char** argv) {
  CLI::App app{"normlab bench_comm: allreduce bandwidth and SyncBatchNorm message latency"};
  int repeats = 50;
  std::string json_path;
  app.add_option("--repeats", repeats, "timed runs per size")->check(CLI::Range(1, 100000));
  app.add_option("--json", json_path, "append one JSON line per measurement to this file");
  CLI11_PARSE(app, argc, argv);
  try {
    nl::dist::Communicator& comm = nl::dist::world();
    const int k = comm.size();
    std::vector<nlohmann::json> lines;
    if (comm.rank() == 0)
      std::printf("%d rank(s) (%s); medians of %d runs, slowest rank\n%10s %12s %14s %14s\n", k,
                  comm.backend().c_str(), repeats, "bytes", "time (us)", "algbw (GB/s)",
                  "busbw (GB/s)");
    for (size_t bytes = size_t(64) << 10; bytes <= size_t(16) << 20; bytes *= 2) {
      std::vector<float> buffer(bytes / sizeof(float), 1.0f);
      const double s =
          median_seconds(comm, repeats, [&] { comm.allreduce_sum(std::span<float>(buffer)); });
      const double algbw = double(bytes) / s / 1e9, busbw = algbw * 2.0 * (k - 1) / k;
      if (comm.rank() == 0)
        std::printf("%10zu %12.1f %14.3f %14.3f\n", bytes, s * 1e6, algbw, busbw);
      lines.push_back({{"op", "allreduce_f32"},
                       {"ranks", k},
                       {"bytes", bytes},
                       {"seconds", s},
                       {"algbw_gb_s", algbw},
                       {"busbw_gb_s", busbw}});
    }
    const int c = 64;
    std::vector<double> stats(1 + 2 * c, 1.0), sums(2 * c, 1.0);
    const double gather = median_seconds(
        comm, repeats * 4, [&] { (void)comm.allgather(std::span<const double>(stats)); });
    const double reduce =
        median_seconds(comm, repeats * 4, [&] { comm.allreduce_sum(std::span<double>(sums)); });
    if (comm.rank() == 0)
      std::printf("SyncBatchNorm, C = %d: forward allgather %.1f us, backward allreduce %.1f us\n",
                  c, gather * 1e6, reduce * 1e6);
    lines.push_back({{"op", "sbn_allgather"}, {"ranks", k}, {"channels", c}, {"seconds", gather}});
    lines.push_back({{"op", "sbn_allreduce"}, {"ranks", k}, {"channels", c}, {"seconds", reduce}});
    if (comm.rank() == 0 && !json_path.empty()) {
      std::ofstream f(json_path, std::ios::app);
      for (const auto& l : lines) f << l.dump() << "\n";
      if (!f) throw std::runtime_error("cannot write " + json_path);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_comm: %s\n", e.what());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nl::apps::guarded_main("bench_comm", [&] { return run(argc, argv); });
}
