#include "core/dist/communicator.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

#include "core/error.hpp"

namespace nl::dist {

#ifdef NORMLAB_WITH_MPI
// core/dist/mpi_communicator.cpp
std::shared_ptr<Communicator> make_mpi_world();
int mpi_ranks_on_this_host();
#endif

namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(std::span<float>) override {}
  void allreduce_sum(std::span<double>) override {}
  void allgather_bytes(const void* send, size_t bytes, void* recv) override {
    if (bytes > 0 && send != recv) std::memmove(recv, send, bytes);
  }
  void broadcast_bytes(void*, size_t, int root) override {
    check(root == 0, "Communicator", "broadcast from rank ", root, " of a single process");
  }
  void barrier() override {}
  std::shared_ptr<Communicator> split(int) override { return std::make_shared<SingleProcess>(); }
  [[noreturn]] void abort(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    std::exit(exit_code);
  }
  std::string backend() const override { return "single process"; }
};

// The world size an MPI launcher announces in the environment (Open MPI's mpirun, MPICH's
// hydra, Slurm's srun with PMI or PMIx), or 0 when none started this process.
int launcher_world_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  if (std::getenv("PMIX_RANK")) return 1;  // PMIx without a size variable: ask MPI
  return 0;
}

std::shared_ptr<Communicator>& world_ptr() {
  static std::shared_ptr<Communicator> w = [] {
    const int announced = launcher_world_size();
#ifdef NORMLAB_WITH_MPI
    if (announced > 0) return make_mpi_world();
#else
    check(announced <= 1, "normlab", "this process was started by an MPI launcher with ", announced,
          " ranks, but normlab was built without MPI: each rank would train alone and "
          "overwrite the others' files. Install libopenmpi-dev and rebuild (cmake finds MPI "
          "and enables it), or run without mpirun.");
#endif
    return std::shared_ptr<Communicator>(std::make_shared<SingleProcess>());
  }();
  return w;
}

}  // namespace

Communicator& world() {
  return *world_ptr();
}

std::shared_ptr<Communicator> single_process() {
  return std::make_shared<SingleProcess>();
}

bool launched_by_mpi() {
  return launcher_world_size() > 0;
}

int ranks_on_this_host() {
#ifdef NORMLAB_WITH_MPI
  if (world().size() > 1) return mpi_ranks_on_this_host();
#endif
  return 1;
}

namespace {
std::mutex groups_mu;
std::map<int, std::shared_ptr<Communicator>>& groups() {
  static std::map<int, std::shared_ptr<Communicator>> g;
  return g;
}
}  // namespace

std::shared_ptr<Communicator> world_groups(int group_size) {
  Communicator& w = world();
  if (group_size == 0 || group_size == w.size()) return world_ptr();
  check(group_size > 0 && w.size() % group_size == 0, "SyncBatchNorm", "group=", group_size,
        " must divide the number of ranks ", w.size(),
        " (ranks are synchronised in consecutive groups of that size)");
  std::lock_guard<std::mutex> lock(groups_mu);
  auto& g = groups()[group_size];
  if (!g) g = w.split(w.rank() / group_size);
  return g;
}

double seconds_communicating_all() {
  double total = world().seconds_communicating();
  std::lock_guard<std::mutex> lock(groups_mu);
  for (const auto& [size, g] : groups()) total += g->seconds_communicating();
  return total;
}

}  // namespace nl::dist
