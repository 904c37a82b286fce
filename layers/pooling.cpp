#include "layers/pooling.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "autograd/node.hpp"
#include "core/parallel.hpp"

namespace nl {
namespace {

// One output cell's input window [y0, y1) x [x0, x1) (already clipped) and its divisor.
struct Window {
  int64_t y0, y1, x0, x1;
  double divisor;
};

struct PoolPlan {
  int64_t n, c, h, w, oh, ow;
  std::vector<Window> windows;  // oh * ow entries, shared by all planes
};

void check_input(const Tensor& x, const char* op) {
  check(x.dim() == 4, op, "expected input (N, C, H, W), got ", shape_str(x.shape()));
}

PoolPlan sliding_plan(const Tensor& x, int64_t k, int64_t s, int64_t p, bool include_pad,
                      const char* op) {
  check_input(x, op);
  check(k >= 1 && s >= 1 && p >= 0, op, "kernel and stride must be >= 1, padding >= 0");
  check(p <= k / 2, op, "padding ", p, " must be at most half the kernel size ", k);
  PoolPlan plan{x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], 0, 0, {}};
  check(plan.h + 2 * p >= k && plan.w + 2 * p >= k, op, "input ", shape_str(x.shape()),
        " is smaller than the kernel ", k);
  plan.oh = (plan.h + 2 * p - k) / s + 1;
  plan.ow = (plan.w + 2 * p - k) / s + 1;
  for (int64_t oy = 0; oy < plan.oh; ++oy)
    for (int64_t ox = 0; ox < plan.ow; ++ox) {
      const int64_t y0 = oy * s - p, x0 = ox * s - p;
      const int64_t y1p = std::min(y0 + k, plan.h + p), x1p = std::min(x0 + k, plan.w + p);
      Window win{std::max<int64_t>(y0, 0), std::min(y0 + k, plan.h), std::max<int64_t>(x0, 0),
                 std::min(x0 + k, plan.w), 0};
      win.divisor = include_pad ? double((y1p - y0) * (x1p - x0))
                                : double((win.y1 - win.y0) * (win.x1 - win.x0));
      plan.windows.push_back(win);
    }
  return plan;
}

template <typename T, typename PlaneFn>
void for_planes(const PoolPlan& plan, PlaneFn fn) {
  parallel_for(plan.n * plan.c, std::max<int64_t>(1, 4096 / (plan.h * plan.w + 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) fn(i);
               });
}

Tensor average(const Tensor& x_in, PoolPlan plan, const char* name) {
  const Tensor x = x_in.detach().contiguous();
  Tensor y = Tensor::empty({plan.n, plan.c, plan.oh, plan.ow}, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_planes<T>(plan, [&](int64_t i) {
      const T* in = px + i * plan.h * plan.w;
      T* out = py + i * plan.oh * plan.ow;
      for (size_t o = 0; o < plan.windows.size(); ++o) {
        const Window& w = plan.windows[o];
        T s = 0;
        for (int64_t yy = w.y0; yy < w.y1; ++yy)
          for (int64_t xx = w.x0; xx < w.x1; ++xx) s += in[yy * plan.w + xx];
        out[o] = s / T(w.divisor);
      }
    });
  });
  return record(y, name, {x_in}, [plan = std::move(plan), dt = x.dtype()](const Tensor& gy) {
    const Tensor g = gy.contiguous();
    Tensor dx = Tensor::zeros({plan.n, plan.c, plan.h, plan.w}, dt);
    dispatch(dt, [&]<typename T>() {
      const T* pg = g.data<T>();
      T* pd = dx.data<T>();
      for_planes<T>(plan, [&](int64_t i) {
        const T* gout = pg + i * plan.oh * plan.ow;
        T* din = pd + i * plan.h * plan.w;
        for (size_t o = 0; o < plan.windows.size(); ++o) {
          const Window& w = plan.windows[o];
          const T share = gout[o] / T(w.divisor);
          for (int64_t yy = w.y0; yy < w.y1; ++yy)
            for (int64_t xx = w.x0; xx < w.x1; ++xx) din[yy * plan.w + xx] += share;
        }
      });
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, int64_t k, int64_t s, int64_t p, bool include_pad) {
  return average(x, sliding_plan(x, k, s, p, include_pad, "avg_pool2d"), "avg_pool2d");
}

Tensor adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow) {
  check_input(x, "adaptive_avg_pool2d");
  check(oh >= 1 && ow >= 1, "adaptive_avg_pool2d", "output size must be positive");
  PoolPlan plan{x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3], oh, ow, {}};
  for (int64_t i = 0; i < oh; ++i)
    for (int64_t j = 0; j < ow; ++j) {
      Window w{i * plan.h / oh, ((i + 1) * plan.h + oh - 1) / oh, j * plan.w / ow,
               ((j + 1) * plan.w + ow - 1) / ow, 0};
      w.divisor = double((w.y1 - w.y0) * (w.x1 - w.x0));
      plan.windows.push_back(w);
    }
  return average(x, std::move(plan), "adaptive_avg_pool2d");
}

Tensor max_pool2d(const Tensor& x_in, int64_t k, int64_t s, int64_t p) {
  PoolPlan plan = sliding_plan(x_in, k, s, p, true, "max_pool2d");
  const Tensor x = x_in.detach().contiguous();
  Tensor y = Tensor::empty({plan.n, plan.c, plan.oh, plan.ow}, x.dtype());
  // Flat index (within the plane) of each output's winner, for the backward scatter.
  auto argmax = std::make_shared<std::vector<int32_t>>(y.numel());
  dispatch(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_planes<T>(plan, [&](int64_t i) {
      const T* in = px + i * plan.h * plan.w;
      for (size_t o = 0; o < plan.windows.size(); ++o) {
        const Window& w = plan.windows[o];
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = w.y0 * plan.w + w.x0;
        for (int64_t yy = w.y0; yy < w.y1; ++yy)
          for (int64_t xx = w.x0; xx < w.x1; ++xx)
            if (in[yy * plan.w + xx] > best) best = in[yy * plan.w + xx], at = yy * plan.w + xx;
        py[i * plan.windows.size() + o] = best;
        (*argmax)[i * plan.windows.size() + o] = static_cast<int32_t>(at);
      }
    });
  });
  return record(y, "max_pool2d", {x_in}, [plan, argmax, dt = x.dtype()](const Tensor& gy) {
    const Tensor g = gy.contiguous();
    Tensor dx = Tensor::zeros({plan.n, plan.c, plan.h, plan.w}, dt);
    dispatch(dt, [&]<typename T>() {
      const T* pg = g.data<T>();
      T* pd = dx.data<T>();
      const int64_t per = plan.oh * plan.ow;
      for_planes<T>(plan, [&](int64_t i) {
        for (int64_t o = 0; o < per; ++o)
          pd[i * plan.h * plan.w + (*argmax)[i * per + o]] += pg[i * per + o];
      });
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace nl
