// Conv2d: every algorithm against the reference loops (layers/conv/reference), gradcheck over a
// grid of geometries, batching of small maps, determinism, errors, and Winograd F(2x2, 3x3) and
// F(4x4, 3x3) against im2col.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/parallel.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/conv/reference/conv2d_reference.hpp"

using namespace nl;
using test::check_grad;
using test::randn64;
using Ts = std::vector<Tensor>;

namespace {
// y = conv(x), then dL/dx and dL/dw of L = sum(y^2), computed with `threads` threads.
Ts output_and_grads(Conv2d& conv, const Tensor& x, int threads) {
  set_num_threads(threads);
  Tensor xi = x.detach().requires_grad_();
  conv.zero_grad();
  Tensor y = conv(xi);
  sum(y * y).backward();
  return {y, xi.grad(), conv.weight.grad()};
}

// The output and both gradients on 2 and 4 threads are those of 1 thread, to the bit.
void check_same_bits_on_1_2_4_threads(Conv2d& conv, const Tensor& x) {
  const Ts one = output_and_grads(conv, x, 1), two = output_and_grads(conv, x, 2),
           four = output_and_grads(conv, x, 4);
  set_num_threads(0);
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(test::max_abs_diff(one[i], two[i]) == 0);
    CHECK(test::max_abs_diff(one[i], four[i]) == 0);
  }
}
}  // namespace

TEST_SUITE("conv") {
  TEST_CASE("gradcheck over stride; padding; dilation; groups and odd sizes") {
    struct Case {
      int64_t n, cin, cout, h, w, k, stride, pad, dil, groups;
      bool bias;
    };
    const Case cases[] = {
        {2, 3, 4, 5, 5, 3, 1, 1, 1, 1, true},    // same padding
        {1, 2, 3, 7, 6, 3, 2, 1, 1, 1, false},   // stride 2, odd sizes
        {2, 2, 2, 6, 7, 3, 1, 2, 2, 1, true},    // dilation
        {2, 4, 4, 5, 5, 3, 1, 1, 1, 4, true},    // depthwise
        {1, 4, 6, 5, 4, 1, 1, 0, 1, 2, false},   // 1x1 direct path, grouped
        {3, 2, 3, 4, 4, 1, 2, 0, 1, 1, true},    // 1x1 stride 2 (projection shortcut)
        {20, 2, 2, 3, 3, 3, 1, 1, 1, 1, false},  // small maps: several images per GEMM
        {1, 1, 2, 4, 5, 2, 3, 0, 1, 1, true},    // even kernel, stride larger than kernel
    };
    for (const Case& c : cases) {
      INFO("k=", c.k, " stride=", c.stride, " pad=", c.pad, " dil=", c.dil, " groups=", c.groups);
      Tensor x = randn64({c.n, c.cin, c.h, c.w}, 1);
      Tensor w = randn64({c.cout, c.cin / c.groups, c.k, c.k}, 2);
      Tensor b = c.bias ? randn64({c.cout}, 3) : Tensor();
      Conv2dOptions o;
      o.stride = {c.stride, c.stride};
      o.padding = {c.pad, c.pad};
      o.dilation = {c.dil, c.dil};
      o.groups = c.groups;
      std::vector<Tensor> inputs{x, w};
      if (c.bias) inputs.push_back(b);
      check_grad([&](const Ts& t) { return conv2d(t[0], t[1], c.bias ? t[2] : Tensor(), o); },
                 inputs);
    }
  }

  TEST_CASE("every algorithm agrees with the reference loops on random shapes") {
    // The oracle: layers/conv/reference/conv2d_reference.cpp (im2col, plain GEMM, col2im).
    Generator shapes(23);
    for (int trial = 0; trial < 16; ++trial) {
      reference::ConvShape s{};
      const bool winograd_shape = trial % 2 == 0;  // 3x3, stride 1, pad 1: all three algorithms
      s.n = 1 + int64_t(shapes.below(3));
      s.c = winograd_shape ? 16 : 1 + int64_t(shapes.below(5));
      s.k = winograd_shape ? 16 : 1 + int64_t(shapes.below(5));
      s.h = 3 + int64_t(shapes.below(7)), s.w = 3 + int64_t(shapes.below(7));
      s.kh = winograd_shape ? 3 : 1 + int64_t(shapes.below(3));
      s.kw = winograd_shape ? 3 : 1 + int64_t(shapes.below(3));
      s.stride = winograd_shape ? 1 : 1 + int64_t(shapes.below(2));
      s.pad = winograd_shape ? 1 : int64_t(shapes.below(2));
      s.dilation = winograd_shape ? 1 : 1 + int64_t(shapes.below(2));
      if (s.out_h() < 1 || s.out_w() < 1) continue;
      Tensor x = randn64({s.n, s.c, s.h, s.w}, 500 + trial);
      Tensor w = randn64({s.k, s.c, s.kh, s.kw}, 600 + trial);
      Tensor b = randn64({s.k}, 700 + trial);
      const Tensor dy = randn64({s.n, s.k, s.out_h(), s.out_w()}, 800 + trial, false);
      const auto ref_y = reference::conv2d_forward(s, x.to_vector(), w.to_vector(), b.to_vector());
      const auto ref = reference::conv2d_backward(s, x.to_vector(), w.to_vector(), dy.to_vector());
      std::vector<ConvAlgorithm> algorithms{ConvAlgorithm::im2col};
      if (winograd_shape) {
        algorithms.push_back(ConvAlgorithm::winograd_2x2);
        if (s.h >= 4 && s.w >= 4) algorithms.push_back(ConvAlgorithm::winograd_4x4);
      }
      for (ConvAlgorithm algorithm : algorithms) {
        CAPTURE(trial);
        CAPTURE(int(algorithm));
        Conv2dOptions o;
        o.stride = {s.stride, s.stride};
        o.padding = {s.pad, s.pad};
        o.dilation = {s.dilation, s.dilation};
        o.algorithm = algorithm;
        for (Tensor* t : {&x, &w, &b}) t->zero_grad();
        const Tensor y = conv2d(x, w, b, o);
        sum(y * dy).backward();
        CHECK(test::max_abs_diff(y.to_vector(), ref_y) < 1e-11);
        CHECK(test::max_abs_diff(x.grad().to_vector(), ref.dx) < 1e-11);
        CHECK(test::max_abs_diff(w.grad().to_vector(), ref.dw) < 1e-10);
        CHECK(test::max_abs_diff(b.grad().to_vector(), ref.db) < 1e-11);
      }
    }
  }

  TEST_CASE("the reference backward is itself right: a float64 gradcheck of the loops") {
    const reference::ConvShape s{.n = 2,
                                 .c = 2,
                                 .h = 5,
                                 .w = 4,
                                 .k = 3,
                                 .kh = 3,
                                 .kw = 2,
                                 .stride = 2,
                                 .pad = 1,
                                 .dilation = 1};
    const std::vector<double> x = randn64({2, 2, 5, 4}, 31, false).to_vector();
    const std::vector<double> w = randn64({3, 2, 3, 2}, 32, false).to_vector();
    const std::vector<double> b = {0.5, -0.5, 1.0};
    const std::vector<double> dy = randn64({2, 3, s.out_h(), s.out_w()}, 33, false).to_vector();
    const auto loss = [&](const std::vector<double>& xs, const std::vector<double>& ws) {
      const auto y = reference::conv2d_forward(s, xs, ws, b);
      double l = 0;
      for (size_t i = 0; i < y.size(); ++i) l += y[i] * dy[i];
      return l;
    };
    const auto g = reference::conv2d_backward(s, x, w, dy);
    const double h = 1e-6;
    for (size_t i = 0; i < x.size(); ++i) {
      auto up = x, down = x;
      up[i] += h, down[i] -= h;
      CHECK(g.dx[i] == doctest::Approx((loss(up, w) - loss(down, w)) / (2 * h)).epsilon(1e-6));
    }
    for (size_t i = 0; i < w.size(); ++i) {
      auto up = w, down = w;
      up[i] += h, down[i] -= h;
      CHECK(g.dw[i] == doctest::Approx((loss(x, up) - loss(x, down)) / (2 * h)).epsilon(1e-6));
    }
  }

  TEST_CASE("results are identical for any thread count") {
    // 33 images of 8x8: few blocks (work split inside each block); 256 images of 4x4: batch
    // parallel (Winograd); and both through im2col.
    for (const auto& [shape, algorithm] : {std::pair{Shape{33, 8, 8, 8}, ConvAlgorithm::automatic},
                                           std::pair{Shape{256, 8, 4, 4}, ConvAlgorithm::automatic},
                                           std::pair{Shape{33, 8, 8, 8}, ConvAlgorithm::im2col}}) {
      INFO(shape_str(shape), " algorithm ", int(algorithm));
      Generator g(3);
      Tensor x = Tensor::randn(shape, g);
      Conv2d conv(8, 16, 3, 1, 1);
      conv.options.algorithm = algorithm;
      auto run = [&](int threads) {
        Ts r = output_and_grads(conv, x, threads);
        r.push_back(conv.bias.grad());
        return r;
      };
      auto a = run(1), b = run(2);
      set_num_threads(0);
      for (size_t i = 0; i < a.size(); ++i) CHECK(test::max_abs_diff(a[i], b[i]) == 0);
    }
  }

  TEST_CASE("a Winograd convolution's schedule follows the thread count; its bits do not") {
    // F(4x4), 40 images of 8x8: 3 blocks of 16 images. One thread runs them batch-parallel
    // (kMinBlocksPerThread), two and four split each block's work over the threads; the
    // forward and the input gradient must not change by a bit, nor the weight gradient (whose
    // schedule depends on the shape alone).
    Generator g(5);
    Tensor x = Tensor::randn({40, 16, 8, 8}, g);
    Conv2d conv(16, 32, 3, 1, 1);
    check_same_bits_on_1_2_4_threads(conv, x);
  }

  TEST_CASE("an im2col convolution's schedule follows the thread count; its bits do not") {
    // 40 images, 16 -> 96 channels, stride 2 onto 8x8: 5 blocks of 8 images, fewer than the
    // shape rule wants for batch parallelism, so every GEMM is cut into row tiles (96 output
    // rows, 144 input-gradient rows). One and two threads run whole blocks in parallel
    // (kMinBlocksPerThread), four split each block's tiles and copies over the threads.
    Generator g(6);
    Tensor x = Tensor::randn({40, 16, 16, 16}, g);
    Conv2d conv(16, 96, 3, 2, 1);
    check_same_bits_on_1_2_4_threads(conv, x);
  }

  TEST_CASE("small batches split each GEMM over output-row tiles; still deterministic") {
    Generator g(4);
    Tensor x = Tensor::randn({2, 16, 10, 10}, g);  // 2 images: far fewer blocks than tiles
    Conv2d conv(16, 96, 3, 1, 1);                  // 96 output rows = 3 tiles; dX has 144 rows
    conv.options.algorithm = ConvAlgorithm::im2col;
    const Ts a = output_and_grads(conv, x, 1), b = output_and_grads(conv, x, 2);
    set_num_threads(0);
    for (size_t i = 0; i < a.size(); ++i) CHECK(test::max_abs_diff(a[i], b[i]) == 0);
    // And against float64 gradients: tiling must not change the math.
    Conv2d c64(16, 96, 3, 1, 1);
    c64.options.algorithm = ConvAlgorithm::im2col;
    c64.to(DType::f64);
    test::check_grad([&](const std::vector<Tensor>& t) { return c64(t[0]); },
                     {test::randn64({1, 16, 5, 5}, 9)});
  }

  TEST_CASE("bad shapes are reported with names") {
    Conv2d conv(3, 8, 3);
    CHECK_THROWS_WITH_AS(conv(Tensor::zeros({1, 4, 8, 8})),
                         doctest::Contains("conv2d: input has 4 channels"), Error);
    CHECK_THROWS_WITH_AS(conv(Tensor::zeros({3, 8, 8})),
                         doctest::Contains("expected input (N, C, H, W)"), Error);
    CHECK_THROWS_WITH_AS(conv(Tensor::zeros({1, 3, 2, 2})),
                         doctest::Contains("smaller than the 3x3 kernel"), Error);
    CHECK_THROWS_WITH_AS(Conv2d(3, 8, 3, 1, 0, true, 2), doctest::Contains("groups=2 must divide"),
                         Error);
  }

  // Winograd F(2x2, 3x3) and F(4x4, 3x3) must give im2col's results: forward, and through the
  // hand-written adjoints, dL/dx, dL/dw and dL/db, in float64 (to rounding) over odd sizes and
  // every blocking. F(4x4) needs channel counts that are multiples of 16.
  TEST_CASE("Winograd matches im2col in forward and backward") {
    struct Case {
      int64_t n, cin, cout, h, w;
    };
    const Case cases[] = {
        {3, 3, 5, 5, 7},      // odd sizes: partial tiles at the bottom and right edges
        {2, 4, 2, 1, 1},      // a 1x1 map: every tap but the centre reads padding
        {40, 2, 3, 3, 3},     // 4 tiles per image: 16 images per block, 3 blocks, split inside
        {300, 2, 2, 2, 2},    // 1 tile per image: 19 blocks, run in parallel over blocks
        {2, 16, 32, 12, 10},  // more channels than tiles
        {3, 16, 16, 9, 13},   // F(4x4): partial tiles in both directions
        {40, 32, 16, 4, 4},   // F(4x4): 1 tile per image, 16 images per block, 3 blocks
        {300, 16, 16, 1, 2},  // F(4x4) forced on a map smaller than its tile: 19 parallel blocks
    };
    for (const Case& c : cases)
      for (ConvAlgorithm winograd : {ConvAlgorithm::winograd_2x2, ConvAlgorithm::winograd_4x4}) {
        if (winograd == ConvAlgorithm::winograd_4x4 && (c.cin % 16 || c.cout % 16)) continue;
        INFO("n=", c.n, " cin=", c.cin, " cout=", c.cout, " h=", c.h, " w=", c.w, " tile ",
             winograd == ConvAlgorithm::winograd_2x2 ? 2 : 4);
        Tensor x = randn64({c.n, c.cin, c.h, c.w}, 11), w = randn64({c.cout, c.cin, 3, 3}, 12);
        Tensor b = randn64({c.cout}, 13), dy = randn64({c.n, c.cout, c.h, c.w}, 14, false);
        auto run = [&](ConvAlgorithm algorithm) {
          Conv2dOptions o;
          o.padding = {1, 1};
          o.algorithm = algorithm;
          for (Tensor* t : {&x, &w, &b}) t->zero_grad();
          Tensor y = conv2d(x, w, b, o);
          sum(y * dy).backward();
          return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad()};
        };
        const auto ref = run(ConvAlgorithm::im2col), win = run(winograd);
        const char* names[] = {"y", "dx", "dw", "db"};
        for (size_t i = 0; i < ref.size(); ++i) {
          INFO(names[i]);
          const double scale = std::max(1.0, test::max_abs(ref[i]));
          CHECK(test::max_abs_diff(ref[i], win[i]) < 1e-12 * scale);
        }
      }
  }

  TEST_CASE("Winograd gradcheck and float32 accuracy") {
    Conv2dOptions o;
    o.padding = {1, 1};
    o.algorithm = ConvAlgorithm::winograd_2x2;
    check_grad([&](const Ts& t) { return conv2d(t[0], t[1], t[2], o); },
               {randn64({2, 3, 5, 6}, 21), randn64({4, 3, 3, 3}, 22), randn64({4}, 23)});
    o.algorithm = ConvAlgorithm::winograd_4x4;
    check_grad([&](const Ts& t) { return conv2d(t[0], t[1], t[2], o); },
               {randn64({1, 16, 5, 6}, 24), randn64({16, 16, 3, 3}, 25), randn64({16}, 26)});
    // float32 at a ResNet stage-1 shape, relative to the output scale: F(2x2) within a few ulps
    // of im2col, F(4x4) (coefficients up to 8 and 1/24) within 1e-5.
    for (const auto& [algorithm, tolerance] : {std::pair{ConvAlgorithm::winograd_2x2, 2e-6},
                                               std::pair{ConvAlgorithm::winograd_4x4, 1e-5}}) {
      Generator g(5);
      Tensor x = Tensor::randn({4, 16, 32, 32}, g), w = Tensor::randn({16, 16, 3, 3}, g);
      o.algorithm = ConvAlgorithm::im2col;
      Tensor ref = conv2d(x, w, Tensor(), o);
      o.algorithm = algorithm;
      const double rel = test::max_abs_diff(ref, conv2d(x, w, Tensor(), o)) / test::max_abs(ref);
      INFO("relative error ", rel);
      CHECK(rel < tolerance);
    }
  }

  TEST_CASE("Winograd forced where it does not apply is an error") {
    Conv2dOptions o;
    o.stride = {2, 2};
    o.padding = {1, 1};
    o.algorithm = ConvAlgorithm::winograd_2x2;
    CHECK_THROWS_WITH_AS(
        conv2d(Tensor::zeros({1, 2, 8, 8}), Tensor::zeros({4, 2, 3, 3}), Tensor(), o),
        doctest::Contains("Winograd needs a 3x3 kernel, stride 1, padding 1"), Error);
    o.stride = {1, 1};
    o.algorithm = ConvAlgorithm::winograd_4x4;
    CHECK_THROWS_WITH_AS(
        conv2d(Tensor::zeros({1, 2, 8, 8}), Tensor::zeros({16, 2, 3, 3}), Tensor(), o),
        doctest::Contains("F(4x4) needs channel counts that are multiples of 16"), Error);
  }

  // The inference epilogue (conv_epilogue.hpp): relu(conv(x) + b + residual) computed as each
  // output plane is written must be the three separate ops to the bit, on every algorithm, in
  // both dtypes, with and without bias, residual and ReLU, at batches that run the blocks in
  // parallel and one after another.
  TEST_CASE("conv2d_fused is conv2d, then + residual, then ReLU, to the bit") {
    struct Case {
      const char* name;
      ConvAlgorithm algorithm;
      int64_t n, cin, cout, h, k, stride, padding;
    };
    const Case cases[] = {
        {"im2col 3x3 stride 2", ConvAlgorithm::im2col, 3, 5, 7, 9, 3, 2, 1},
        {"im2col 1x1 direct", ConvAlgorithm::im2col, 2, 8, 6, 5, 1, 1, 0},
        {"winograd 2x2", ConvAlgorithm::winograd_2x2, 3, 8, 9, 7, 3, 1, 1},
        {"winograd 4x4", ConvAlgorithm::winograd_4x4, 2, 16, 32, 10, 3, 1, 1},
        {"winograd 4x4, blocks in parallel", ConvAlgorithm::winograd_4x4, 40, 16, 16, 8, 3, 1, 1},
    };
    for (const Case& c : cases)
      for (DType dt : {DType::f32, DType::f64})
        for (int variant = 0; variant < 8; ++variant) {
          const bool with_bias = variant & 1, with_residual = variant & 2, with_relu = variant & 4;
          CAPTURE(c.name);
          CAPTURE(dtype_name(dt));
          CAPTURE(variant);
          Generator g(uint64_t(11 + variant));
          Conv2dOptions o;
          o.stride = {c.stride, c.stride};
          o.padding = {c.padding, c.padding};
          o.algorithm = c.algorithm;
          const Tensor x = Tensor::randn({c.n, c.cin, c.h, c.h}, g, dt);
          const Tensor w = Tensor::randn({c.cout, c.cin, c.k, c.k}, g, dt);
          const Tensor b = with_bias ? Tensor::randn({c.cout}, g, dt) : Tensor();
          const Tensor plain = conv2d(x, w, b, o);
          const Tensor r = with_residual ? Tensor::randn(plain.shape(), g, dt) : Tensor();
          Tensor expected = with_residual ? add(plain, r) : plain;
          if (with_relu) expected = relu(expected);
          NoGradGuard no_grad;
          CHECK(test::max_abs_diff(conv2d_fused(x, w, b, o, r, with_relu), expected) == 0);
        }
  }

  TEST_CASE("conv2d_fused records the separate ops when a gradient is wanted") {
    Conv2dOptions o;
    o.padding = {1, 1};
    test::check_grad(
        [&](const std::vector<Tensor>& t) { return conv2d_fused(t[0], t[1], t[2], o, t[3], true); },
        {test::randn64({2, 8, 6, 6}, 7), test::randn64({8, 8, 3, 3}, 8), test::randn64({8}, 9),
         test::randn64({2, 8, 6, 6}, 6)});
  }

  TEST_CASE("conv2d_fused names a mismatched residual when recording gradients too") {
    Conv2dOptions o;
    o.padding = {1, 1};
    // A (1, 4, 1, 1) residual would broadcast in add(); conv2d_fused refuses it on both paths.
    CHECK_THROWS_WITH_AS(
        conv2d_fused(test::randn64({1, 2, 8, 8}, 1), test::randn64({4, 2, 3, 3}, 2), Tensor(), o,
                     test::randn64({1, 4, 1, 1}, 3), true),
        doctest::Contains("conv2d_fused: residual float64[1, 4, 1, 1] does not "
                          "match the output [1, 4, 8, 8]"),
        Error);
  }

  TEST_CASE("conv2d_fused names a residual that does not match the output") {
    NoGradGuard no_grad;
    Conv2dOptions o;
    o.padding = {1, 1};
    CHECK_THROWS_WITH_AS(conv2d_fused(Tensor::zeros({1, 2, 8, 8}), Tensor::zeros({4, 2, 3, 3}),
                                      Tensor(), o, Tensor::zeros({1, 4, 4, 4}), true),
                         doctest::Contains("conv2d_fused: residual float32[1, 4, 4, 4] does not "
                                           "match the output [1, 4, 8, 8]"),
                         Error);
  }
}
