#include "core/tensor.hpp"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>

#include "core/strided.hpp"
#include "core/system_memory.hpp"

namespace nl {
namespace {
constexpr std::size_t kCheckedAllocation = std::size_t(256) << 20;
// Training frees and re-allocates the same activation sizes every step. By default glibc hands
// big blocks back to the kernel (mmap/munmap), and every step then pays page faults to zero
// fresh pages again (measured: ~6% of a ResNet-20 step, and 4x on a single BatchNorm call).
// Keeping blocks up to 32 MiB (glibc's maximum for this setting) in the heap avoids that.
[[maybe_unused]] const bool g_keep_heap = [] {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}();
}  // namespace

Storage::Storage(std::size_t n) : bytes(n) {
  // Linux hands out any size and kills the process when the pages are touched: refuse a big
  // buffer the machine cannot back, naming its size (reading /proc only for big ones is cheap).
  if (n >= kCheckedAllocation) {
    const double available = available_memory_bytes();
    if (available > 0 && double(n) > available)
      throw Error("out of memory: a tensor of " + format_bytes(double(n)) + " is more than the " +
                  format_bytes(available) +
                  " this machine has available (a model too wide or a batch too large?)");
  }
  // 64-byte alignment keeps AVX-512 loads aligned at the start of every buffer. Aligned by hand
  // in a plain malloc of 64 bytes more, not with aligned_alloc: glibc's aligned_alloc asks its
  // heap for the size plus the alignment and a header and hands the slack back, so a freed
  // block is too small for the next aligned request of the same size, and a layer called in a
  // loop took fresh pages from the system every call (measured: a 3 -> 16 convolution at batch
  // 128 paid page faults on its whole 8 MiB output each time).
  const std::size_t rounded = ((n + 63) / 64) * 64;
  block = std::malloc(rounded + 64);
  if (!block) throw Error("Storage: out of memory allocating " + std::to_string(n) + " bytes");
  void* aligned = block;
  std::size_t space = rounded + 64;
  data = std::align(64, rounded, aligned, space);
}

Storage::~Storage() {
  std::free(block);
}

TensorImpl& Tensor::impl() const {
  check(impl_ != nullptr, "Tensor", "use of an undefined (default-constructed) tensor");
  return *impl_;
}

int64_t Tensor::size(int64_t d) const {
  return shape()[wrap_axis(d, dim(), "Tensor::size")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] != 1 && strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && impl().storage == other.impl().storage;
}

std::string Tensor::str() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(shape());
}

double Tensor::at(const std::vector<int64_t>& index) const {
  check(static_cast<int64_t>(index.size()) == dim(), "Tensor::at", "index has ", index.size(),
        " entries for a tensor of shape ", shape_str(shape()));
  int64_t off = 0;
  for (int64_t d = 0; d < dim(); ++d) {
    check(index[d] >= 0 && index[d] < shape()[d], "Tensor::at", "index ", index[d],
          " is out of range for dimension ", d, " of size ", shape()[d]);
    off += index[d] * strides()[d];
  }
  return dispatch(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[off]); });
}

double Tensor::item() const {
  check(numel() == 1, "Tensor::item", "needs a one-element tensor, got shape ", shape_str(shape()));
  return at(std::vector<int64_t>(dim(), 0));
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(numel());
  const Tensor c = detach().contiguous();
  dispatch(dtype(), [&]<typename T>() {
    const T* p = c.data<T>();
    for (int64_t i = 0; i < c.numel(); ++i) out[i] = p[i];
  });
  return out;
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl().storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(impl);
}

Tensor& Tensor::fill_(double value) {
  dispatch(dtype(), [&]<typename T>() {
    T* base = static_cast<T*>(impl().storage->data);
    const T v = static_cast<T>(value);
    strided_rows<1>(shape(), {strides()}, [&](auto off, int64_t n, auto st) {
      T* p = base + offset() + off[0];
      for (int64_t i = 0; i < n; ++i) p[i * st[0]] = v;
    });
  });
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  const Shape bshape = broadcast_shapes(shape(), src.shape(), "copy_");
  check(bshape == shape(), "copy_", "cannot copy a tensor of shape ", shape_str(src.shape()),
        " into one of shape ", shape_str(shape()));
  // Broadcast src by giving stretched dimensions stride 0.
  Shape sst(dim(), 0);
  const int64_t lead = dim() - src.dim();
  for (int64_t d = 0; d < src.dim(); ++d)
    sst[lead + d] = src.shape()[d] == 1 ? 0 : src.strides()[d];
  dispatch(dtype(), [&]<typename T>() {
    dispatch(src.dtype(), [&]<typename S>() {
      T* dst = static_cast<T*>(impl().storage->data) + offset();
      const S* s = static_cast<const S*>(src.impl().storage->data) + src.offset();
      if constexpr (std::is_same_v<T, S>) {
        if (is_contiguous() && src.is_contiguous() && src.shape() == shape()) {
          if (dst != s) std::memcpy(dst, s, numel() * sizeof(T));
          return;
        }
      }
      strided_rows<2>(shape(), {strides(), sst}, [&](auto off, int64_t n, auto st) {
        for (int64_t i = 0; i < n; ++i)
          dst[off[0] + i * st[0]] = static_cast<T>(s[off[1] + i * st[1]]);
      });
    });
  });
  return *this;
}

}  // namespace nl
