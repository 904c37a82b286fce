// Matrix products through cblas. A transposed view is passed to BLAS as a transpose flag, so
// x.transpose(0, 1) costs no copy here.

#include "core/blas.hpp"
#include "core/kernels.hpp"
#include "core/parallel.hpp"

namespace nl::kernels {
namespace {

// How BLAS should read a 2-D (rows x cols) matrix view, or nullopt-like {false, 0} if it can't.
struct BlasView {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

BlasView blas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cs == 1 && (rs >= cols || rows == 1)) return {true, false, rows == 1 ? cols : rs};
  if (rs == 1 && (cs >= rows || cols == 1)) return {true, true, cols == 1 ? rows : cs};
  return {};
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check(a_in.dtype() == b_in.dtype(), "matmul", "dtype mismatch: ", a_in.str(), " vs ", b_in.str());
  check((a_in.dim() == 2 && b_in.dim() == 2) || (a_in.dim() == 3 && b_in.dim() == 3), "matmul",
        "expects two 2-D or two 3-D tensors, got ", shape_str(a_in.shape()), " and ",
        shape_str(b_in.shape()));
  const bool batched = a_in.dim() == 3;
  Tensor a = batched ? a_in : a_in.detach().unsqueeze(0);
  Tensor b = batched ? b_in : b_in.detach().unsqueeze(0);
  const int64_t batch = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  check(b.shape()[0] == batch && b.shape()[1] == k, "matmul", "shapes ", shape_str(a_in.shape()),
        " and ", shape_str(b_in.shape()), " are not aligned");
  BlasView va = blas_view(m, k, a.strides()[1], a.strides()[2]);
  if (!va.ok) a = a.detach().contiguous(), va = blas_view(m, k, a.strides()[1], a.strides()[2]);
  BlasView vb = blas_view(k, n, b.strides()[1], b.strides()[2]);
  if (!vb.ok) b = b.detach().contiguous(), vb = blas_view(k, n, b.strides()[1], b.strides()[2]);
  Tensor out = Tensor::empty({batch, m, n}, a.dtype());
  if (m * n > 0 && k == 0) out.fill_(0);
  dispatch(a.dtype(), [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (m * n == 0 || k == 0) return;
    parallel_for(batch, 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i)
        gemm<T>(va.trans, vb.trans, m, n, k, T(1), pa + i * a.strides()[0], va.ld,
                pb + i * b.strides()[0], vb.ld, T(0), pc + i * m * n, n);
    });
  });
  return batched ? out : out.view({m, n});
}

}  // namespace nl::kernels
