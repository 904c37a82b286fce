// bench_layers: per-layer speed at the ResNet-20 shapes (batch 128 by default).
//   bench_layers conv  --threads 2   # Conv2d forward / input-grad / weight-grad GFLOP/s next to
//                                    # one plain cblas_sgemm of the same M, N, K
//   bench_layers norm  --threads 2   # BN, GN, LN, IN forward+backward milliseconds
//                                    # (--norms ln in --channels 64: a subset)
//   bench_layers loader --threads 2  # decode time of the JPEG CIFAR-10 and loader images/s
//   bench_layers elementwise         # serial vs parallel add: the elementwise grain
//   bench_layers winograd2x2         # F(2x2) against im2col where the automatic policy picks
//                                    # F(2x2): does it still pay?
//   bench_layers gemm                # small_gemm against cblas_sgemm at the Winograd
//                                    # products' shapes (one thread)
// Prints one JSON object per line.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <vector>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "core/small_gemm.hpp"
#include "data/image_folder.hpp"
#include "data/loader.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/norm/factory.hpp"

using namespace nl;

namespace {

// Median seconds of `iters` runs after three warm-ups (the first calls grow the heap).
double time_it(int iters, const std::function<void()>& fn) {
  for (int i = 0; i < 3; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double sgemm_seconds(int threads, int64_t m, int64_t n, int64_t k, int iters) {
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  openblas_set_num_threads(threads);
  const double s = time_it(iters, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.f, a.data(), k, b.data(), n,
                0.f, c.data(), n);
  });
  openblas_set_num_threads(1);
  return s;
}

void conv_bench(int64_t batch, int iters, const std::string& algorithm) {
  struct Shape {
    int64_t cin, cout, k, stride, hw;
    int count;
  };  // count: convs of this shape in ResNet-20
  const Shape shapes[] = {{3, 16, 3, 1, 32, 1},  {16, 16, 3, 1, 32, 6}, {16, 32, 3, 2, 32, 1},
                          {16, 32, 1, 2, 32, 1}, {32, 32, 3, 1, 16, 5}, {32, 64, 3, 2, 16, 1},
                          {32, 64, 1, 2, 16, 1}, {64, 64, 3, 1, 8, 5}};
  Generator g(0);
  double total_flop = 0, total_s = 0, total_gemm_s = 0;
  for (const Shape& s : shapes) {
    Conv2d conv(s.cin, s.cout, s.k, s.stride, s.k / 2, false);
    if (algorithm == "im2col") conv.options.algorithm = ConvAlgorithm::im2col;
    if (algorithm == "winograd_2x2" && s.k == 3 && s.stride == 1)
      conv.options.algorithm = ConvAlgorithm::winograd_2x2;
    Tensor x = Tensor::randn({batch, s.cin, s.hw, s.hw}, g);
    const int64_t oh = (s.hw + 2 * (s.k / 2) - s.k) / s.stride + 1;
    const int64_t m = s.cout, n = batch * oh * oh, k = s.cin * s.k * s.k;
    const double flop = 2.0 * m * n * k;
    Tensor gy = Tensor::randn({batch, s.cout, oh, oh}, g);
    double fwd, dx, dw;
    {
      NoGradGuard ng;
      fwd = time_it(iters, [&] { conv(x); });
    }
    conv.weight.requires_grad_(false);
    Tensor xg = x.detach().requires_grad_();
    dx = time_it(iters,
                 [&] {
                   xg.zero_grad();
                   sum(mul(conv(xg), gy)).backward();
                 }) -
         fwd;
    conv.weight.requires_grad_(true);
    dw = time_it(iters,
                 [&] {
                   conv.zero_grad();
                   sum(mul(conv(x), gy)).backward();
                 }) -
         fwd;
    // The mul/sum that seeds backward costs a little; it is included in dx and dw (slight
    // underestimate).
    const double g_fwd = sgemm_seconds(num_threads(), m, n, k, iters);
    const double g_dx = sgemm_seconds(num_threads(), k, n, m, iters);
    const double g_dw = sgemm_seconds(num_threads(), m, k, n, iters);
    std::printf(
        "{\"conv\": \"%lldx%lld k%lld s%lld %lldx%lld\", \"count\": %d, \"M\": %lld, \"N\": %lld, "
        "\"K\": %lld, "
        "\"fwd_gflops\": %.1f, \"dx_gflops\": %.1f, \"dw_gflops\": %.1f, "
        "\"sgemm_fwd_gflops\": %.1f, \"sgemm_dx_gflops\": %.1f, \"sgemm_dw_gflops\": %.1f}\n",
        (long long)s.cin, (long long)s.cout, (long long)s.k, (long long)s.stride, (long long)s.hw,
        (long long)s.hw, s.count, (long long)m, (long long)n, (long long)k, flop / fwd / 1e9,
        flop / dx / 1e9, flop / dw / 1e9, flop / g_fwd / 1e9, flop / g_dx / 1e9, flop / g_dw / 1e9);
    std::fflush(stdout);
    total_flop += s.count * 3 * flop;
    total_s += s.count * (fwd + dx + dw);
    total_gemm_s += s.count * (g_fwd + g_dx + g_dw);
  }
  std::printf(
      "{\"resnet20_conv_total\": true, \"gflops\": %.1f, \"sgemm_gflops\": %.1f, "
      "\"fraction_of_sgemm\": %.3f}\n",
      total_flop / total_s / 1e9, total_flop / total_gemm_s / 1e9, total_gemm_s / total_s);
}

void norm_bench(int64_t batch, int iters, const std::vector<std::string>& specs,
                const std::vector<int64_t>& channels) {
  Generator g(0);
  for (const std::string& spec : specs) {
    for (const int64_t c : channels) {
      // The ResNet-20 activation shapes: 16 channels at 32x32, 32 at 16x16, 64 at 8x8.
      const int64_t side = c <= 16 ? 32 : c <= 32 ? 16 : 8;
      const std::vector<int64_t> shape = {batch, c, side, side};
      NormSlot slot = make_norm(spec, shape[1]);
      Tensor x = Tensor::randn(shape, g).requires_grad_();
      Tensor gy = Tensor::randn(shape, g);
      double fwd;
      {
        NoGradGuard ng;
        fwd = time_it(iters, [&] { (*slot.module)(x); });
      }
      const double both = time_it(iters, [&] {
        Tensor y = (*slot.module)(x);
        y.backward(gy);
      });
      std::printf(
          "{\"norm\": \"%s\", \"shape\": [%lld, %lld, %lld, %lld], \"threads\": %d, \"fwd_ms\": "
          "%.3f, \"fwd_bwd_ms\": %.3f}\n",
          spec.c_str(), (long long)shape[0], (long long)shape[1], (long long)shape[2],
          (long long)shape[3], num_threads(), fwd * 1e3, both * 1e3);
      std::fflush(stdout);
    }
  }
}

// Time to decode the whole image folder, then one epoch of augmented batches from the loader
// alone (random crop + flip + normalize, batch 128, prefetching on).
void loader_bench(const std::string& dir, int64_t batch) {
  namespace fs = std::filesystem;
  const auto t0 = std::chrono::steady_clock::now();
  data::ImageFolder train((fs::path(dir) / "train").string()),
      test((fs::path(dir) / "test").string());
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto st = train.channel_stats();
  const std::vector<float> mean(st.mean.begin(), st.mean.end()), sd(st.std.begin(), st.std.end());
  data::Compose aug(
      {data::RandomCrop(32, 4), data::RandomHorizontalFlip(), data::Normalize(mean, sd)});
  data::DataLoader loader(train, {.batch_size = batch, .shuffle = true, .drop_last = true}, aug);
  const auto t1 = std::chrono::steady_clock::now();
  loader.start_epoch(0);
  int64_t images = 0;
  while (auto b = loader.next()) images += int64_t(b->labels.size());
  const double epoch_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf(
      "{\"images_loaded\": %lld, \"load_seconds\": %.2f, \"threads\": %d, \"loader_img_per_s\": "
      "%.0f}\n",
      static_cast<long long>(train.size()) + static_cast<long long>(test.size()), load_s,
      num_threads(), images / epoch_s);
}

// Serial vs 2-thread time of one contiguous float add at growing sizes: where parallel_for
// starts to pay off decides kElementwiseGrain.
void elementwise_bench(int iters) {
  Generator g(0);
  for (int64_t n = 1024; n <= (int64_t(1) << 22); n *= 2) {
    Tensor a = Tensor::randn({n}, g), b = Tensor::randn({n}, g);
    Tensor out = Tensor::empty({n});
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* po = out.data<float>();
    auto run = [&](int64_t grain) {
      return time_it(iters, [&] {
        parallel_for(n, grain, [&](int64_t s, int64_t e) {
          for (int64_t i = s; i < e; ++i) po[i] = pa[i] + pb[i];
        });
      });
    };
    const double serial = run(n), parallel = run(std::max<int64_t>(n / num_threads(), 1));
    std::printf(
        "{\"elements\": %lld, \"serial_us\": %.2f, \"parallel_us\": %.2f, \"threads\": %d}\n",
        (long long)n, serial * 1e6, parallel * 1e6, num_threads());
  }
}

// The shapes where ConvAlgorithm::automatic picks Winograd F(2x2) (3x3, stride 1, at least 8
// channels, F(4x4) ruled out by a channel count that is not a multiple of 16 or a map under
// 4x4): forward + backward of F(2x2) and of im2col, interleaved, median of three pairs of
// medians. Decides whether F(2x2) earns its code (docs/conv2d.md).
void winograd2x2_bench(int iters) {
  const struct {
    nl::Shape x;
    int64_t cout;
  } cases[] = {{{128, 8, 32, 32}, 8},   {{128, 24, 32, 32}, 24}, {{128, 40, 16, 16}, 40},
               {{128, 12, 16, 16}, 12}, {{32, 24, 32, 32}, 24},  {{128, 64, 3, 3}, 64},
               {{128, 64, 2, 2}, 64}};
  Generator g(1);
  for (const auto& c : cases) {
    Tensor x = Tensor::randn(c.x, g).requires_grad_();
    Tensor w = Tensor::randn({c.cout, c.x[1], 3, 3}, g).requires_grad_();
    const auto run = [&](ConvAlgorithm algorithm) {
      Conv2dOptions o;
      o.padding = {1, 1};
      o.algorithm = algorithm;
      return time_it(iters, [&] {
        x.zero_grad();
        w.zero_grad();
        sum(conv2d(x, w, Tensor(), o)).backward();
      });
    };
    std::vector<double> f2, im2col;
    for (int pair = 0; pair < 3; ++pair) {
      f2.push_back(run(ConvAlgorithm::winograd_2x2));
      im2col.push_back(run(ConvAlgorithm::im2col));
    }
    std::sort(f2.begin(), f2.end());
    std::sort(im2col.begin(), im2col.end());
    std::printf(
        "{\"bench\":\"winograd2x2\",\"x\":\"%s\",\"cout\":%lld,\"threads\":%d,"
        "\"winograd_2x2_ms\":%.3f,\"im2col_ms\":%.3f,\"im2col_over_winograd\":%.3f}\n",
        shape_str(c.x).c_str(), (long long)c.cout, num_threads(), f2[1] * 1e3, im2col[1] * 1e3,
        im2col[1] / f2[1]);
  }
}

// One Winograd block's 36 position products (128 tiles, ResNet-20's channel counts), forward
// (M = V U^T: A = V row-major) and weight gradient (dU += Z^T V: A read transposed), each timed
// with small_gemm and with cblas_sgemm as the code used before, five interleaved rounds,
// median. One thread: these products run inside the convolutions' parallel loops.
void gemm_bench(int iters) {
  constexpr int64_t kTiles = 128, kPositions = 36;
  for (const int64_t c : {16, 32, 64})
    for (const bool weight : {false, true}) {
      const int64_t m = weight ? c : kTiles, n = c, k = weight ? kTiles : c;
      std::vector<float> a(kPositions * m * k), b(kPositions * k * n), out(kPositions * m * n);
      for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 13) / 13.0f - 0.5f;
      for (size_t i = 0; i < b.size(); ++i) b[i] = float(i % 7) / 7.0f - 0.5f;
      const auto ours = [&] {
        for (int64_t xi = 0; xi < kPositions; ++xi)
          small_gemm<float>(m, n, k, a.data() + xi * m * k, weight ? 1 : k, weight ? m : 1,
                            b.data() + xi * k * n, n, out.data() + xi * m * n, n, weight);
      };
      const auto openblas = [&] {
        for (int64_t xi = 0; xi < kPositions; ++xi)
          cblas_sgemm(CblasRowMajor, weight ? CblasTrans : CblasNoTrans, CblasNoTrans, m, n, k, 1.f,
                      a.data() + xi * m * k, weight ? m : k, b.data() + xi * k * n, n,
                      weight ? 1.f : 0.f, out.data() + xi * m * n, n);
      };
      std::vector<double> t_ours, t_blas;
      for (int round = 0; round < 5; ++round) {
        t_ours.push_back(time_it(iters, ours));
        t_blas.push_back(time_it(iters, openblas));
      }
      std::sort(t_ours.begin(), t_ours.end());
      std::sort(t_blas.begin(), t_blas.end());
      const double flop = 2.0 * double(kPositions * m * n * k);
      std::printf(
          "{\"bench\":\"gemm\",\"product\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,"
          "\"kernel\":%s,\"small_gemm_gflops\":%.1f,\"cblas_gflops\":%.1f}\n",
          weight ? "weight" : "forward", (long long)m, (long long)n, (long long)k,
          small_gemm_has_kernel() ? "true" : "false", flop / t_ours[2] / 1e9,
          flop / t_blas[2] / 1e9);
      std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"normlab bench_layers: Conv2d and normalization speed at ResNet-20 shapes"};
    std::string what;
    int threads = 0, iters = 10;
    int64_t batch = 128;
    std::string data_dir = "../shared/datasets/cifar10-jpeg";
    app.add_option("what", what, "conv, norm, loader, elementwise, winograd2x2 or gemm")
        ->required()
        ->check(CLI::IsMember({"conv", "norm", "loader", "elementwise", "winograd2x2", "gemm"}));
    app.add_option("--data", data_dir, "image folder for the loader benchmark");
    app.add_option("--threads", threads, "0 = all cores");
    app.add_option("--iters", iters);
    app.add_option("--batch-size", batch);
    std::vector<std::string> norms = {"bn", "gn:groups=8", "ln", "in"};
    std::vector<int64_t> channels = {16, 32, 64};
    std::string conv_algorithm = "auto";
    app.add_option("--conv", conv_algorithm,
                   "conv: auto (Winograd where it applies) | im2col | winograd_2x2 (F(2x2) instead "
                   "of F(4x4))")
        ->check(CLI::IsMember({"auto", "im2col", "winograd_2x2"}));
    app.add_option("--norms", norms, "norm: the specs to time (space-separated)");
    app.add_option("--channels", channels, "norm: 16 (32x32 map), 32 (16x16), 64 (8x8)")
        ->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    set_num_threads(threads);
    if (what == "conv")
      conv_bench(batch, iters, conv_algorithm);
    else if (what == "norm")
      norm_bench(batch, iters, norms, channels);
    else if (what == "elementwise")
      elementwise_bench(std::max(iters, 50));
    else if (what == "winograd2x2")
      winograd2x2_bench(std::min(iters, 5));
    else if (what == "gemm") {
      set_num_threads(1);
      gemm_bench(std::max(iters, 50));
    } else
      loader_bench(data_dir, batch);
  } catch (const std::exception& e) {  // a bad --data folder, an out-of-memory batch
    std::cerr << "bench_layers: " << e.what() << "\n";
    return 1;
  }
}
