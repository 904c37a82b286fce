#include "apps/common/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "apps/common/divergence.hpp"
#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace nl::apps {
namespace fs = std::filesystem;
using json = nlohmann::json;

void save_checkpoint(const std::string& path, const Module& model,
                     const std::map<std::string, Tensor>& optimizer, const json& meta) {
  SafetensorsFile f;
  for (auto& [k, t] : model.state_dict()) f.tensors["model." + k] = t;
  for (const std::string& k : model.counter_buffers()) f.int64_tensors.insert("model." + k);
  for (auto& [k, t] : optimizer) f.tensors["optimizer." + k] = t;
  f.metadata["normlab"] = meta.dump();
  save_safetensors(path, f);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  Checkpoint c;
  c.path = path;
  for (auto& [k, t] : f.tensors) {
    if (k.rfind("model.", 0) == 0)
      c.model[k.substr(6)] = t;
    else if (k.rfind("optimizer.", 0) == 0)
      c.optimizer[k.substr(10)] = t;
    else
      throw Error(path + ": unexpected tensor '" + k + "' (expected model.* or optimizer.*)");
  }
  auto it = f.metadata.find("normlab");
  if (it == f.metadata.end())
    throw Error(path + ": not a normlab checkpoint (no 'normlab' metadata)");
  try {
    c.meta = json::parse(it->second);
  } catch (const std::exception& e) {
    throw Error(path + ": the 'normlab' metadata is not valid JSON (" + e.what() + ")");
  }
  const auto require = [&](const char* key, bool ok, const char* what) {
    if (!ok) throw Error(path + ": checkpoint metadata field '" + key + "' " + what);
  };
  require("config", c.meta.is_object() && c.meta.contains("config") && c.meta["config"].is_object(),
          "is missing or not an object");
  require("epoch",
          c.meta.contains("epoch") && c.meta["epoch"].is_number_integer() &&
              c.meta["epoch"].get<int64_t>() >= 0,
          "must be a non-negative integer");
  require("schedule_step",
          c.meta.contains("schedule_step") && c.meta["schedule_step"].is_number_integer() &&
              c.meta["schedule_step"].get<int64_t>() >= 0,
          "must be a non-negative integer");
  if (c.meta.contains("classes")) {
    const json& classes = c.meta["classes"];
    bool ok = classes.is_array() && !classes.empty();
    for (const auto& name : classes) ok = ok && name.is_string();
    require("classes", ok, "must be a non-empty list of class names");
  }
  return c;
}

InputNormalization checkpoint_normalization(const Checkpoint& ck, int64_t channels) {
  InputNormalization n;
  for (const char* key : {"mean", "std"}) {
    const auto& v = ck.meta.contains(key) ? ck.meta[key] : json();
    std::vector<float>& out = std::string(key) == "mean" ? n.mean : n.std;
    if (!v.is_array() || int64_t(v.size()) != channels)
      throw Error(ck.path + ": checkpoint metadata field '" + key + "' must list " +
                  std::to_string(channels) + " numbers (one per image channel), got " + v.dump());
    for (const auto& x : v) {
      if (!x.is_number() || !std::isfinite(x.get<double>()))
        throw Error(ck.path + ": checkpoint metadata field '" + key + "' holds " + x.dump() +
                    ", not a finite number");
      out.push_back(x.get<float>());
    }
  }
  for (float s : n.std)
    if (!(s > 0))
      throw Error(ck.path + ": checkpoint metadata field 'std' holds " + std::to_string(s) +
                  "; every channel's std must be positive");
  return n;
}

void check_same_classes(const std::vector<std::string>& trained,
                        const std::vector<std::string>& classes, const std::string& what) {
  if (trained == classes) return;
  std::vector<std::string> a = trained, b = classes, only_a, only_b;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  const auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("none") : s;
  };
  std::string msg = what + ": the class lists differ (" + std::to_string(trained.size()) + " vs " +
                    std::to_string(classes.size()) +
                    " classes); only in the first: " + list(only_a) +
                    "; only in the second: " + list(only_b);
  if (only_a.empty() && only_b.empty()) msg += " (same names in another order)";
  throw Error(msg);
}

void check_finite_state(const std::map<std::string, Tensor>& state, const std::string& where) {
  for (const auto& [name, t] : state)
    if (!all_finite(t)) throw Error(where + ": tensor '" + name + "' holds NaN or infinite values");
}

}  // namespace nl::apps
