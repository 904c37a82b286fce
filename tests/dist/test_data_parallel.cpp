// Data-parallel training steps: K ranks with B samples each take the same steps as one process
// with the K B samples (GroupNorm, SyncBatchNorm), and BatchNorm over K ranks is Ghost
// BatchNorm with virtual batch B on one process.
#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "core/init.hpp"
#include "core/random.hpp"
#include "layers/activation.hpp"
#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/dist/data_parallel.hpp"
#include "layers/linear.hpp"
#include "layers/loss.hpp"
#include "layers/norm/factory.hpp"
#include "layers/optim/optimizer.hpp"
#include "layers/pooling.hpp"
#include "tests/dist/dist_helpers.hpp"

using namespace nl;
using namespace nl::testing;

namespace {

constexpr int64_t kClasses = 5;

std::shared_ptr<Sequential> small_net(const std::string& norm, DType dtype) {
  manual_seed(123);
  auto net = std::make_shared<Sequential>();
  net->emplace<Conv2d>(3, 8, 3, 1, 1, false);
  net->push_back(make_norm(norm, 8).module);
  net->emplace<ReLU>();
  net->emplace<AdaptiveAvgPool2d>(1);
  net->emplace<Flatten>();
  net->emplace<Linear>(8, kClasses);
  net->to(dtype);
  return net;
}

std::unique_ptr<SGD> momentum_sgd(Module& net) {
  ParamGroup g;
  g.params = net.parameters();
  g.lr = 0.05;
  g.momentum = 0.9;
  g.nesterov = true;
  g.weight_decay = 1e-3;
  return std::make_unique<SGD>(std::vector<ParamGroup>{g});
}

struct GlobalBatches {
  std::vector<Tensor> x;
  std::vector<std::vector<int64_t>> y;
};

GlobalBatches batches(int steps, int64_t global, DType dtype) {
  Generator g(99);
  GlobalBatches b;
  for (int s = 0; s < steps; ++s) {
    b.x.push_back(Tensor::randn({global, 3, 6, 6}, g, dtype) + 0.5);
    std::vector<int64_t> labels(global);
    for (auto& l : labels) l = int64_t(g.below(kClasses));
    b.y.push_back(labels);
  }
  return b;
}

// Trains `steps` SGD-momentum steps on this rank's shard of each global batch (every rank),
// and returns the parameters.
std::vector<Tensor> data_parallel_run(const std::string& norm, const GlobalBatches& data,
                                      DType dtype) {
  auto net = small_net(norm, dtype);
  dist::DataParallel dp(*net, dist::world_groups(0));
  auto opt = momentum_sgd(*net);
  for (size_t s = 0; s < data.x.size(); ++s) {
    const int64_t global = data.x[s].shape()[0];
    const dist::Shard mine = dist::shard_of(global, comm().rank(), comm().size());
    dp.broadcast_buffers();
    opt->zero_grad();
    const std::vector<int64_t> labels(data.y[s].begin() + mine.begin, data.y[s].begin() + mine.end);
    Tensor loss = cross_entropy((*net)(rows(data.x[s], mine.begin, mine.size())), labels);
    (loss * (double(mine.size()) / double(global))).backward();
    dp.allreduce_gradients();
    opt->step();
  }
  dp.broadcast_buffers();  // per-rank BatchNorm statistics: rank 0's, as before every step
  dp.check_replicas_identical("after the test's steps");
  return net->parameters();
}

// The same steps on one process with the whole global batch (on every rank, independently).
std::vector<Tensor> one_process_run(const std::string& norm, const GlobalBatches& data,
                                    DType dtype) {
  auto net = small_net(norm, dtype);
  auto opt = momentum_sgd(*net);
  for (size_t s = 0; s < data.x.size(); ++s) {
    opt->zero_grad();
    cross_entropy((*net)(data.x[s]), data.y[s]).backward();
    opt->step();
  }
  return net->parameters();
}

double max_param_diff(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, max_abs_diff(a[i], b[i]));
  return m;
}

}  // namespace

TEST_SUITE("dist") {
  TEST_CASE("K ranks x batch B take the steps of one process with batch K B (float64)") {
    const int64_t per_rank = 4, global = per_rank * comm().size();
    const auto data = batches(5, global, DType::f64);
    // sbn pools every rank's batch; its one-process equivalent is bn.
    for (const auto& [spec, single] :
         {std::pair{"gn:groups=2", "gn:groups=2"}, std::pair{"sbn", "bn"}, std::pair{"ln", "ln"}}) {
      INFO(spec, " on ", comm().size(), " ranks vs ", single, " on one process");
      const double diff = max_param_diff(data_parallel_run(spec, data, DType::f64),
                                         one_process_run(single, data, DType::f64));
      CHECK(diff < 1e-10);
    }
  }

  TEST_CASE("uneven shards still give the one-process steps (float64)") {
    const int64_t global = 4 * comm().size() + (comm().size() > 1 ? 1 : 0);
    const auto data = batches(5, global, DType::f64);
    CHECK(max_param_diff(data_parallel_run("sbn", data, DType::f64),
                         one_process_run("bn", data, DType::f64)) < 1e-10);
  }

  TEST_CASE("float32: K ranks stay close to one process") {
    const int64_t global = 8 * comm().size();
    const auto data = batches(5, global, DType::f32);
    for (const char* spec : {"gn:groups=2", "sbn"}) {
      INFO(spec);
      const std::string single = std::string(spec) == "sbn" ? "bn" : spec;
      CHECK(max_param_diff(data_parallel_run(spec, data, DType::f32),
                           one_process_run(single, data, DType::f32)) < 2e-5);
    }
  }

  TEST_CASE("BatchNorm over K ranks is Ghost BatchNorm with the per-rank batch (float64)") {
    const int64_t per_rank = 4, global = per_rank * comm().size();
    const auto data = batches(5, global, DType::f64);
    const std::string ghost = "gbn:virtual_batch=" + std::to_string(per_rank);
    CHECK(max_param_diff(data_parallel_run("bn", data, DType::f64),
                         one_process_run(ghost, data, DType::f64)) < 1e-10);
  }

  TEST_CASE("replicas that differ are named") {
    auto net = small_net("gn:groups=2", DType::f32);
    dist::DataParallel dp(*net, dist::world_groups(0));
    dp.check_replicas_identical("at the start");  // identical after the broadcast
    if (comm().size() > 1) {
      if (comm().rank() == comm().size() - 1) net->parameters()[1].fill_(0.25);
      const std::string expect =
          "'1.weight' on rank(s) " + std::to_string(comm().size() - 1) + " differs";
      CHECK_THROWS_WITH_AS(dp.check_replicas_identical("after step 3"),
                           doctest::Contains(expect.c_str()), nl::Error);
    }
  }

  TEST_CASE("gradients undefined on every rank stay undefined") {
    auto net = small_net("gn:groups=2", DType::f64);
    dist::DataParallel dp(*net, dist::world_groups(0));
    dp.allreduce_gradients();
    for (const Tensor& p : net->parameters()) CHECK_FALSE(p.grad().defined());
  }
}
