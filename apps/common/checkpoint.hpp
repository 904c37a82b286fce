// Training checkpoints: one safetensors file holding the model's state_dict ("model.*"), the
// optimizer's state ("optimizer.*") and a JSON record of the run ("normlab" metadata: the
// configuration, the epoch and schedule step reached, the input normalization and the class
// names). Every reader validates what it takes, naming the file and the field at fault.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "layers/module.hpp"

namespace nl::apps {

struct Checkpoint {
  std::string path;
  std::map<std::string, Tensor> model, optimizer;
  nlohmann::json meta;  // config, epoch, schedule_step, mean, std, classes
};

// Writes atomically (temporary file, fsync, rename): a crash leaves the old or the new file.
void save_checkpoint(const std::string& path, const Module& model,
                     const std::map<std::string, Tensor>& optimizer, const nlohmann::json& meta);
// Reads and checks the structure: a regular file, a normlab record with a config object, an
// epoch and a schedule step. Throws naming the file.
Checkpoint load_checkpoint(const std::string& path);

// The per-channel input normalization stored with the run: one finite mean and one finite,
// positive std per image channel. Throws naming the checkpoint and the field.
struct InputNormalization {
  std::vector<float> mean, std;
};
InputNormalization checkpoint_normalization(const Checkpoint& ck, int64_t channels);

// The class names the run was trained with; throws when `classes` differs, listing the
// names only one side has (or the first position where the orders differ).
void check_same_classes(const std::vector<std::string>& trained,
                        const std::vector<std::string>& classes, const std::string& what);

// Throws naming the first tensor of `state` that holds a NaN or an infinity.
void check_finite_state(const std::map<std::string, Tensor>& state, const std::string& where);

}  // namespace nl::apps
