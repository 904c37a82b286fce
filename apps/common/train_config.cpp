#include "apps/common/train_config.hpp"

#include "apps/common/build_info.hpp"
#include "core/dist/communicator.hpp"
#include "core/error.hpp"
#include "core/parallel.hpp"

namespace nl::apps {
using json = nlohmann::json;

json TrainConfig::to_json() const {
  return {{"data", data},
          {"model", model},
          {"width", arch.width},
          {"norm", arch.norm},
          {"residual", arch.residual},
          {"kaiming_normal", arch.kaiming_normal},
          {"epochs", epochs},
          {"batch_size", batch_size},
          {"lr", lr},
          {"momentum", momentum},
          {"nesterov", nesterov},
          {"wd", wd},
          {"wd_skip_norm_bias", wd_skip_norm_bias},
          {"agc", agc},
          {"schedule", schedule},
          {"optimizer", optimizer},
          {"crop_fill", crop_fill},
          {"pct_start", pct_start},
          {"seed", seed},
          {"threads", num_threads()},
          {"world_size", dist::world().size()},
          {"train_limit", train_limit},
          {"test_limit", test_limit},
          {"recalibrate", recalibrate},
          {"normlab_version", NORMLAB_VERSION},
          {"git_commit", git_commit()}};
}

TrainConfig TrainConfig::from_json(const json& j) {
  TrainConfig c;
  const auto take = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      field = j.at(key).get<std::remove_reference_t<decltype(field)>>();
    } catch (const std::exception&) {
      throw Error(std::string("config field '") + key +
                  "' has the wrong type: " + j.at(key).dump());
    }
  };
  take("data", c.data), take("model", c.model), take("width", c.arch.width);
  take("norm", c.arch.norm), take("residual", c.arch.residual);
  take("kaiming_normal", c.arch.kaiming_normal);
  take("epochs", c.epochs), take("batch_size", c.batch_size), take("lr", c.lr);
  take("momentum", c.momentum), take("nesterov", c.nesterov), take("wd", c.wd);
  take("wd_skip_norm_bias", c.wd_skip_norm_bias), take("agc", c.agc);
  take("schedule", c.schedule), take("optimizer", c.optimizer), take("pct_start", c.pct_start);
  take("crop_fill", c.crop_fill);
  take("seed", c.seed), take("train_limit", c.train_limit), take("test_limit", c.test_limit);
  take("recalibrate", c.recalibrate);
  return c;
}

}  // namespace nl::apps
