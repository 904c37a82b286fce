#include "layers/optim/grad_clip.hpp"

#include <algorithm>
#include <cmath>

#include "autograd/node.hpp"
#include "core/parallel.hpp"

namespace nl {

void adaptive_clip_grad_(const std::vector<Tensor>& params, double clip_factor, double eps) {
  check(clip_factor > 0 && eps >= 0, "adaptive_clip_grad_",
        "clip_factor must be > 0 and eps >= 0, got ", clip_factor, " and ", eps);
  NoGradGuard no_grad;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    check(p.is_contiguous() && g.is_contiguous(), "adaptive_clip_grad_",
          "parameters and gradients must be contiguous");
    // Units are rows of the parameter viewed as (shape[0], rest); 0-D and 1-D are one unit.
    const int64_t units = p.dim() <= 1 ? 1 : p.shape()[0];
    const int64_t size = p.numel() / std::max<int64_t>(units, 1);
    dispatch(p.dtype(), [&]<typename T>() {
      const T* w = p.data<T>();
      T* d = g.data<T>();
      parallel_for(units, 1, [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u) {
          double w2 = 0, g2 = 0;
          for (int64_t j = u * size; j < (u + 1) * size; ++j) {
            w2 += double(w[j]) * double(w[j]);
            g2 += double(d[j]) * double(d[j]);
          }
          const double max_norm = clip_factor * std::max(std::sqrt(w2), eps);
          const double g_norm = std::sqrt(g2);
          if (g_norm <= max_norm) continue;
          const T scale = T(max_norm / std::max(g_norm, 1e-6));
          for (int64_t j = u * size; j < (u + 1) * size; ++j) d[j] *= scale;
        }
      });
    });
  }
}

}  // namespace nl
