// recompute_running_stats (layers/norm/precise_stats.hpp): running statistics become the plain
// average over the given batches; every other buffer and the train/eval mode come back as they
// were, also when a batch fails.
#include <doctest/doctest.h>

#include <map>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/error.hpp"
#include "helpers.hpp"
#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/cross_iteration_bn.hpp"
#include "layers/norm/evo_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/precise_stats.hpp"
#include "layers/norm/running_stats.hpp"

using namespace nl;

namespace {

// Gives the batches in turn, then nullopt.
std::function<std::optional<Tensor>()> batches_of(const std::vector<Tensor>& batches) {
  auto next = std::make_shared<size_t>(0);
  return [batches, next]() -> std::optional<Tensor> {
    if (*next == batches.size()) return std::nullopt;
    return batches[(*next)++];
  };
}

std::vector<Tensor> three_batches(int64_t channels) {
  std::vector<Tensor> b;
  for (uint64_t seed = 1; seed <= 3; ++seed)
    b.push_back(
        add(mul(test::randn64({4, channels, 3, 3}, seed, false), double(seed)), double(seed) - 2));
  return b;
}

// Per channel over (N, H, W): mean and unbiased variance of one batch.
std::pair<double, double> channel_moments(const Tensor& x, int64_t c) {
  double s = 0, q = 0, m = 0;
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t h = 0; h < x.size(2); ++h)
      for (int64_t w = 0; w < x.size(3); ++w) {
        const double v = x.at({n, c, h, w});
        s += v, q += v * v, ++m;
      }
  const double mean = s / m;
  return {mean, (q - m * mean * mean) / (m - 1)};
}

std::map<std::string, std::vector<double>> buffer_values(const Module& m) {
  std::map<std::string, std::vector<double>> v;
  for (const auto& [name, b] : m.named_buffers()) v[name] = b.to_vector();
  return v;
}

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("recompute_running_stats: BatchNorm's statistics become the batches' average") {
    BatchNorm bn(3, {.momentum = 0.1});
    bn.to(DType::f64);
    const std::vector<Tensor> batches = three_batches(3);
    bn(add(batches[0], 7.0));  // some history that the recomputation must forget
    bn.eval();
    const RecomputedStats done = recompute_running_stats(bn, batches_of(batches));
    CHECK(done.batches == 3);
    CHECK(done.buffers_averaged == 2);
    CHECK_FALSE(bn.is_training());                      // the mode comes back
    CHECK(bn.running.num_batches_tracked.item() == 1);  // counters come back
    for (int64_t c = 0; c < 3; ++c) {
      double mean = 0, var = 0;
      for (const Tensor& b : batches) {
        const auto [m, v] = channel_moments(b, c);
        mean += m / 3, var += v / 3;
      }
      CHECK(bn.running.mean.at({c}) == doctest::Approx(mean).epsilon(1e-12));
      CHECK(bn.running.var.at({c}) == doctest::Approx(var).epsilon(1e-12));
    }
    // The same batches again give the same statistics: nothing of the call before remains.
    const auto once = buffer_values(bn);
    recompute_running_stats(bn, batches_of(batches));
    CHECK(buffer_values(bn) == once);
  }

  TEST_CASE("recompute_running_stats: ghost chunks, EvoNorm B0; a model without statistics") {
    // Ghost BatchNorm updates once per chunk of 2 samples: the average is over every chunk.
    BatchNorm ghost(2, {.momentum = 0.1, .virtual_batch = 2});
    ghost.to(DType::f64);
    const std::vector<Tensor> batches = three_batches(2);
    recompute_running_stats(ghost, batches_of(batches));
    for (int64_t c = 0; c < 2; ++c) {
      double mean = 0;
      for (const Tensor& b : batches) mean += channel_moments(b, c).first / 3;
      CHECK(ghost.running.mean.at({c}) == doctest::Approx(mean).epsilon(1e-12));
    }
    // EvoNorm B0 blends its running variance without a batch counter.
    EvoNormB0 evo(2);
    evo.to(DType::f64);
    CHECK(recompute_running_stats(evo, batches_of(batches)).buffers_averaged == 1);
    double var = 0;
    for (const Tensor& b : batches) var += channel_moments(b, 1).second / 3;
    CHECK(evo.running_var.at({1}) == doctest::Approx(var).epsilon(1e-12));
    // GroupNorm keeps none: nothing is averaged, nothing changes.
    GroupNorm gn(1, 2);
    gn.to(DType::f64);
    const RecomputedStats none = recompute_running_stats(gn, batches_of(batches));
    CHECK(none.batches == 3);
    CHECK(none.buffers_averaged == 0);
  }

  TEST_CASE("recompute_running_stats: Cross-Iteration BN's window and counter come back") {
    auto net = std::make_shared<Sequential>();
    auto conv = net->emplace<Conv2d>(2, 3, 3, 1, 1);
    auto cbn =
        net->emplace<CrossIterationBatchNorm>(3, CrossIterationBNOptions{.window = 2, .burnin = 0});
    cbn->bind_conv(conv);
    net->to(DType::f64);
    const std::vector<Tensor> batches = three_batches(2);
    for (const Tensor& b : batches) (*net)(b);  // fills the window
    const auto before = buffer_values(*net);
    recompute_running_stats(*net, batches_of(batches));
    const auto after = buffer_values(*net);
    for (const auto& [name, values] : before) {
      INFO(name);
      if (name.ends_with("running_mean") || name.ends_with("running_var"))
        CHECK(values != after.at(name));
      else
        CHECK(values == after.at(name));  // history_*, num_batches_tracked
    }
    // The running mean is the average of the conv outputs' batch means.
    NoGradGuard no_grad;
    double mean = 0;
    for (const Tensor& b : batches) mean += channel_moments((*conv)(b), 0).first / 3;
    CHECK(cbn->running.mean.at({0}) == doctest::Approx(mean).epsilon(1e-12));
  }

  TEST_CASE("recompute_running_stats: a failing batch leaves every buffer as it was") {
    BatchNorm bn(3, {.momentum = 0.1});
    bn.to(DType::f64);
    const std::vector<Tensor> batches = three_batches(3);
    bn(batches[2]);
    bn.eval();
    const auto before = buffer_values(bn);
    std::vector<Tensor> bad = batches;
    bad[2] = test::randn64({4, 5, 3, 3}, 9, false);  // 5 channels for a layer of 3
    CHECK_THROWS_WITH_AS(recompute_running_stats(bn, batches_of(bad)),
                         doctest::Contains("expected 3 channels"), Error);
    CHECK(buffer_values(bn) == before);
    CHECK_FALSE(bn.is_training());
    // Scopes do not nest.
    CumulativeStatsScope outer;
    CHECK_THROWS_WITH_AS(CumulativeStatsScope(), doctest::Contains("do not nest"), Error);
  }
}
