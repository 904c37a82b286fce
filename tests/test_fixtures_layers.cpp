// PyTorch agreement, layers: convolution, linear, pooling, losses (the fixtures:
// tests/fixtures/torch_reference.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/node.hpp"
#include "autograd/ops.hpp"
#include "fixtures/torch_reference.hpp"
#include "helpers.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"
#include "layers/loss.hpp"
#include "layers/norm/batch_channel_norm.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/batch_renorm.hpp"
#include "layers/norm/cross_iteration_bn.hpp"
#include "layers/norm/evo_norm.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/filter_response_norm.hpp"
#include "layers/norm/group_norm.hpp"
#include "layers/norm/instance_enhanced_bn.hpp"
#include "layers/norm/instance_norm.hpp"
#include "layers/norm/layer_norm_2d.hpp"
#include "layers/norm/local_response_norm.hpp"
#include "layers/norm/lp_batch_norm.hpp"
#include "layers/norm/online_norm.hpp"
#include "layers/norm/proxy_norm.hpp"
#include "layers/norm/rms_norm.hpp"
#include "layers/norm/switchable_norm.hpp"
#include "layers/norm/weight/spectral_norm.hpp"
#include "layers/norm/weight/weight_normalizer.hpp"
#include "layers/optim/grad_clip.hpp"
#include "layers/optim/optimizer.hpp"
#include "layers/optim/schedule.hpp"
#include "layers/pooling.hpp"

using namespace nl;
using namespace nl::fixtures;

TEST_SUITE("layers") {
  TEST_CASE("conv; linear; pooling and cross entropy agree with PyTorch") {
    replay("conv2d_s2p1", {"x", "w", "b"}, [](auto& t) {
      Conv2dOptions o;
      o.stride = {2, 2}, o.padding = {1, 1};
      return conv2d(t[0], t[1], t[2], o);
    });
    replay("conv2d_depthwise_dil2", {"x", "w"}, [](auto& t) {
      Conv2dOptions o;
      o.padding = {2, 2}, o.dilation = {2, 2}, o.groups = 3;
      return conv2d(t[0], t[1], Tensor(), o);
    });
    replay("conv2d_1x1", {"x", "w"}, [](auto& t) { return conv2d(t[0], t[1], Tensor(), {}); });
    replay("linear", {"x", "w", "b"}, [](auto& t) {
      // The Linear module itself, its parameters replaced by the fixture's leaves.
      Linear fc(t[1].shape()[1], t[1].shape()[0]);
      fc.weight = t[1];
      fc.bias = t[2];
      return fc(t[0]);
    });
    replay("max_pool2d", {"x"}, [](auto& t) { return max_pool2d(t[0], 3, 2, 1); });
    replay("avg_pool2d", {"x"}, [](auto& t) { return avg_pool2d(t[0], 3, 2, 1, true); });
    replay("avg_pool2d_nopad", {"x"}, [](auto& t) { return avg_pool2d(t[0], 3, 2, 1, false); });
    replay("adaptive_avg_pool2d", {"x"}, [](auto& t) { return adaptive_avg_pool2d(t[0], 3, 4); });
    const auto labels = cases().at("cross_entropy_ls").at("labels").get<std::vector<int64_t>>();
    replay("cross_entropy_ls", {"z"},
           [&](auto& t) { return cross_entropy(t[0], labels, 0.1).reshape({1}); });
  }
}
