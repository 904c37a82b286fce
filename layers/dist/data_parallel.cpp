#include "layers/dist/data_parallel.hpp"

#include <chrono>
#include <cstring>
#include <sstream>

#include "core/error.hpp"

namespace nl::dist {

namespace {

void broadcast_tensors(Communicator& comm, const NamedTensors& tensors) {
  for (const auto& named : tensors) {
    const Tensor& t = named.second;  // (a lambda may not capture a structured binding in clang 14)
    check(t.is_contiguous(), "DataParallel", named.first, " is not contiguous");
    dispatch(t.dtype(), [&]<typename T>() {
      comm.broadcast(std::span<T>(t.data<T>(), size_t(t.numel())), 0);
    });
  }
}

// The gradients of one dtype, packed into one buffer: each parameter's values, then one
// "defined" slot per parameter.
template <typename T>
void allreduce_dtype(Communicator& comm, const std::vector<Tensor>& params) {
  int64_t total = 0;
  for (const Tensor& p : params) total += p.numel();
  std::vector<T> buffer(size_t(total + int64_t(params.size())), T(0));
  int64_t at = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor g = params[i].grad();
    if (g.defined()) {
      const Tensor gc = g.contiguous();
      std::memcpy(buffer.data() + at, gc.data<T>(), size_t(gc.numel()) * sizeof(T));
      buffer[size_t(total) + i] = T(1);
    }
    at += params[i].numel();
  }
  comm.allreduce_sum(std::span<T>(buffer));
  at = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    if (buffer[size_t(total) + i] > T(0)) {
      Tensor g = p.grad();
      if (!g.defined() || !g.is_contiguous()) {
        g = Tensor::zeros(p.shape(), p.dtype());
        p.impl().grad = g.impl_ptr();
      }
      std::memcpy(g.data<T>(), buffer.data() + at, size_t(p.numel()) * sizeof(T));
    }
    at += p.numel();
  }
}

}  // namespace

DataParallel::DataParallel(Module& model, std::shared_ptr<Communicator> comm)
    : model_(model), comm_(std::move(comm)) {
  broadcast_state();
}

void DataParallel::broadcast_state() {
  if (comm_->size() == 1) return;
  const double before = comm_->seconds_communicating();
  broadcast_tensors(*comm_, model_.named_parameters());
  broadcast_tensors(*comm_, model_.named_buffers());
  broadcast_seconds_ += comm_->seconds_communicating() - before;
}

void DataParallel::broadcast_buffers() {
  if (comm_->size() == 1) return;
  const double before = comm_->seconds_communicating();
  broadcast_tensors(*comm_, model_.named_buffers());
  broadcast_seconds_ += comm_->seconds_communicating() - before;
}

void DataParallel::allreduce_gradients() {
  if (comm_->size() == 1) return;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Tensor> f32, f64;
  for (const Tensor& p : model_.parameters()) (p.dtype() == DType::f32 ? f32 : f64).push_back(p);
  if (!f32.empty()) allreduce_dtype<float>(*comm_, f32);
  if (!f64.empty()) allreduce_dtype<double>(*comm_, f64);
  allreduce_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint64_t content_hash(const Tensor& t) {
  const Tensor c = t.contiguous();
  return dispatch(c.dtype(), [&]<typename T>() {
    const auto* p = reinterpret_cast<const unsigned char*>(c.data<T>());
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size_t(c.numel()) * sizeof(T); ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  });
}

void DataParallel::check_replicas_identical(const std::string& when) {
  if (comm_->size() == 1) return;
  NamedTensors all = model_.named_parameters();
  for (auto& b : model_.named_buffers()) all.push_back(b);
  std::vector<uint64_t> mine(all.size());
  for (size_t i = 0; i < all.size(); ++i) mine[i] = content_hash(all[i].second);
  const std::vector<uint64_t> every = comm_->allgather(std::span<const uint64_t>(mine));
  for (size_t i = 0; i < all.size(); ++i) {
    std::vector<int> differing;
    for (int r = 1; r < comm_->size(); ++r)
      if (every[size_t(r) * all.size() + i] != every[i]) differing.push_back(r);
    if (differing.empty()) continue;
    std::ostringstream ranks;
    for (size_t k = 0; k < differing.size(); ++k) ranks << (k ? ", " : "") << differing[k];
    throw Error("data-parallel replicas diverged " + when + ": '" + all[i].first + "' on rank(s) " +
                ranks.str() +
                " differs from rank 0's (a rank-dependent "
                "computation, or a broken network link); stopping");
  }
}

}  // namespace nl::dist
