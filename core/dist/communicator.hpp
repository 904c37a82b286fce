// The communicator of data-parallel training: the few collective operations normlab needs, over
// the processes (ranks) of one job. Two implementations:
//   - one process (no MPI, or a program not started by mpirun): every collective is the identity;
//   - MPI (core/dist/mpi_communicator.cpp, when normlab is built with MPI and the program is
//     started by mpirun or srun): MPI_COMM_WORLD and its splits.
// Every collective is entered by every rank of the communicator in the same order (as in MPI);
// only the calling thread of the program's main loop communicates.
//
//   nl::dist::Communicator& comm = nl::dist::world();
//   comm.allreduce_sum(gradients);           // in place: the same bits on every rank
//   comm.broadcast_bytes(buffer, n, 0);      // rank 0's bytes everywhere
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace nl::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Element-wise sum over the ranks, in place; every rank receives the same bits.
  virtual void allreduce_sum(std::span<float> data) = 0;
  virtual void allreduce_sum(std::span<double> data) = 0;
  // Each rank's `bytes` bytes at `send`, concatenated in rank order into `recv`
  // (size() * bytes bytes). Every rank sends the same number of bytes.
  virtual void allgather_bytes(const void* send, size_t bytes, void* recv) = 0;
  // Rank `root`'s `bytes` bytes at `data`, copied into every rank's `data`.
  virtual void broadcast_bytes(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // The communicator of the ranks that pass the same `color`, ranked in this one's order.
  // Collective: every rank calls it.
  virtual std::shared_ptr<Communicator> split(int color) = 0;
  // Ends the whole job with `exit_code` (MPI_Abort: no rank is left waiting).
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // "MPI" or "single process", for messages and config.json.
  virtual std::string backend() const = 0;

  // Typed helpers over the byte collectives.
  template <typename T>
  std::vector<T> allgather(std::span<const T> send) {
    std::vector<T> recv(send.size() * size_t(size()));
    allgather_bytes(send.data(), send.size_bytes(), recv.data());
    return recv;
  }
  template <typename T>
  void broadcast(std::span<T> data, int root = 0) {
    broadcast_bytes(data.data(), data.size_bytes(), root);
  }

  // Wall-clock seconds spent inside this communicator's collectives since construction (the
  // communication part of a step's time).
  double seconds_communicating() const { return seconds_; }

 protected:
  double seconds_ = 0;
};

// The job's communicator, created on first use: MPI's world when normlab was built with MPI
// and this process was started by an MPI launcher, else a single process. Throws when a
// launcher started several processes but normlab was built without MPI (each would otherwise
// train alone and overwrite the others' files).
Communicator& world();
// A single-process communicator (also what world() is without a launcher).
std::shared_ptr<Communicator> single_process();
// True when an MPI launcher (mpirun, srun) started this process, even as a single rank.
bool launched_by_mpi();
// Ranks of this job on this host (1 without MPI): threads per rank default to cores / this.
int ranks_on_this_host();
// The communicator of consecutive groups of `group_size` ranks of world() (ranks 0..G-1,
// G..2G-1, ...), created once per size; 0 means the whole world. Throws unless group_size
// divides the world size.
std::shared_ptr<Communicator> world_groups(int group_size);
// Seconds spent in the collectives of world() and of every world_groups() communicator.
double seconds_communicating_all();

}  // namespace nl::dist
