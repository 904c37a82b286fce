// The MPI communicator (compiled only when normlab is built with MPI). MPI is initialised on
// first use with MPI_THREAD_FUNNELED (only the main thread communicates; TBB's workers never
// do) and finalised at exit. Errors stay fatal (MPI_ERRORS_ARE_FATAL): a broken link ends the
// job with MPI's message instead of hanging it.
// The C API only: without these, Open MPI's and MPICH's mpi.h pull in the deprecated C++
// bindings, which need a library we do not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/dist/communicator.hpp"
#include "core/error.hpp"

namespace nl::dist {
namespace {

// Adds the wall time of one collective to the communicator's total.
class Timed {
 public:
  explicit Timed(double& total) : total_(total), t0_(std::chrono::steady_clock::now()) {}
  ~Timed() {
    total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point t0_;
};

// MPI counts are ints: a larger buffer goes in pieces of at most 2^30 elements.
template <typename F>
void in_pieces(size_t n, F&& f) {
  constexpr size_t piece = size_t(1) << 30;
  for (size_t at = 0; at < n; at += piece) f(at, int(std::min(piece, n - at)));
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_WORLD) MPI_Comm_free(&comm_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allreduce_sum(std::span<float> data) override {
    Timed t(seconds_);
    in_pieces(data.size(), [&](size_t at, int n) {
      MPI_Allreduce(MPI_IN_PLACE, data.data() + at, n, MPI_FLOAT, MPI_SUM, comm_);
    });
  }
  void allreduce_sum(std::span<double> data) override {
    Timed t(seconds_);
    in_pieces(data.size(), [&](size_t at, int n) {
      MPI_Allreduce(MPI_IN_PLACE, data.data() + at, n, MPI_DOUBLE, MPI_SUM, comm_);
    });
  }
  void allgather_bytes(const void* send, size_t bytes, void* recv) override {
    Timed t(seconds_);
    check(bytes <= size_t(std::numeric_limits<int>::max()), "Communicator", "allgather of ", bytes,
          " bytes per rank is larger than MPI's int count");
    MPI_Allgather(send, int(bytes), MPI_BYTE, recv, int(bytes), MPI_BYTE, comm_);
  }
  void broadcast_bytes(void* data, size_t bytes, int root) override {
    Timed t(seconds_);
    in_pieces(bytes, [&](size_t at, int n) {
      MPI_Bcast(static_cast<char*>(data) + at, n, MPI_BYTE, root, comm_);
    });
  }
  void barrier() override {
    Timed t(seconds_);
    MPI_Barrier(comm_);
  }
  std::shared_ptr<Communicator> split(int color) override {
    MPI_Comm sub;
    MPI_Comm_split(comm_, color, rank_, &sub);
    return std::make_shared<MpiCommunicator>(sub);
  }
  [[noreturn]] void abort(int exit_code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
  }
  std::string backend() const override { return "MPI"; }

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

std::shared_ptr<Communicator> make_mpi_world() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    std::atexit(finalize_at_exit);
  }
  return std::make_shared<MpiCommunicator>(MPI_COMM_WORLD);
}

int mpi_ranks_on_this_host() {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  int n = 1;
  MPI_Comm_size(local, &n);
  MPI_Comm_free(&local);
  return n;
}

}  // namespace nl::dist
