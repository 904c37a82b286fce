#include "apps/common/run_checks.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "layers/models/model_memory.hpp"
#include "layers/norm/batch_norm.hpp"
#include "layers/norm/factory.hpp"

namespace nl::apps {
namespace fs = std::filesystem;
using json = nlohmann::json;

void check_settings(const TrainConfig& c) {
  check(c.epochs >= 1, "train", "--epochs must be >= 1, got ", c.epochs);
  check(c.batch_size >= 2, "train", "--batch-size must be >= 2, got ", c.batch_size);
  check(c.train_limit >= 0, "train", "--train-limit must be >= 0 (0 = all images), got ",
        c.train_limit);
  check(c.test_limit >= 0, "train", "--test-limit must be >= 0 (0 = all images), got ",
        c.test_limit);
  check(c.recalibrate >= 0, "train", "--recalibrate must be >= 0 (0 = off), got ", c.recalibrate);
  check(c.arch.width >= 1, "train", "--width must be >= 1, got ", c.arch.width);
  check(c.stop_after_epoch >= 0, "train", "--stop-after-epoch must be >= 0");
  check(std::isfinite(c.lr) && c.lr >= 0, "train", "--lr must be a finite number >= 0, got ", c.lr);
  check(std::isfinite(c.wd) && c.wd >= 0, "train", "--wd must be a finite number >= 0");
  check(c.momentum >= 0 && c.momentum < 1, "train", "--momentum must be in [0, 1), got ",
        c.momentum);
  check(c.pct_start > 0 && c.pct_start < 1, "train", "--pct-start must be in (0, 1)");
  check(std::isfinite(c.agc) && c.agc >= 0, "train", "--agc must be >= 0 (0 = off)");
  // The spec is valid for the stem's channels, and a ghost batch larger than the batch (which
  // would silently be plain BN) is refused; the factory's layer knows its own default.
  const NormSlot slot = make_norm(c.arch.norm, c.arch.width, {32, 32});
  if (const auto* bn = dynamic_cast<const BatchNorm*>(slot.module.get()))
    check(bn->options.virtual_batch <= c.batch_size, "train", "--norm ", c.arch.norm,
          ": the virtual batch (", bn->options.virtual_batch, ") is larger than --batch-size ",
          c.batch_size,
          ", so every ghost batch would be the whole batch; use a smaller "
          "virtual_batch");
}

fs::path prepare_output_folder(const std::string& dir) {
  if (dir.empty()) return {};
  fs::path out = dir;
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw Error(dir + ": --out must be a folder, and this is a file");
  fs::create_directories(out, ec);
  if (ec) throw Error(dir + ": cannot create the output folder (" + ec.message() + ")");
  const fs::path probe = out / ".normlab-write-test";
  {
    std::ofstream f(probe);
    if (!(f << "ok") || !f.flush())
      throw Error(dir + ": the output folder is not writable (" + std::strerror(errno) + ")");
  }
  fs::remove(probe, ec);
  const fs::path stale = out / "checkpoint.safetensors.tmp";
  if (fs::exists(stale, ec)) {
    std::printf("removing %s, left by an interrupted run\n", stale.c_str());
    fs::remove(stale, ec);
  }
  return out;
}

std::string flag_name(const std::string& key) {
  std::string flag = "--" + key;
  for (char& ch : flag)
    if (ch == '_') ch = '-';
  return flag;
}

const std::vector<std::string>& run_defining_settings() {
  static const std::vector<std::string> keys = {"model",
                                                "width",
                                                "norm",
                                                "residual",
                                                "kaiming_normal",
                                                "epochs",
                                                "batch_size",
                                                "lr",
                                                "momentum",
                                                "nesterov",
                                                "wd",
                                                "wd_skip_norm_bias",
                                                "agc",
                                                "schedule",
                                                "optimizer",
                                                "pct_start",
                                                "seed",
                                                "train_limit",
                                                "test_limit",
                                                "crop_fill"};
  return keys;
}

void check_resume_compatible(const Checkpoint& ck, const TrainConfig& cfg) {
  const json& saved = ck.meta.at("config");
  const json now = cfg.to_json();
  for (const std::string& key : run_defining_settings()) {
    if (!saved.contains(key)) continue;  // older checkpoints lack a few settings
    const json& a = saved[key];
    const json& b = now[key];
    const bool same =
        (a.is_number() && b.is_number()) ? a.get<double>() == b.get<double>() : a == b;
    if (same) continue;
    const std::string flag = flag_name(key);
    std::string hint;
    if (key == "epochs")
      hint =
          " (the schedule spans all epochs, so a run of another length is a new run; the "
          "checkpoint has done " +
          std::to_string(ck.meta.at("epoch").get<int64_t>() + 1) + " epochs)";
    throw Error(ck.path + ": cannot resume with " + flag + " " + b.dump() +
                ": the checkpoint was trained with " + a.dump() + hint +
                ". Resume with the checkpoint's settings (flags left out are taken from it), or "
                "start a new run.");
  }
}

bool statistics_are_per_rank(const std::string& spec) {
  const NormSpec parsed = NormSpec::parse(spec);
  std::stringstream names(parsed.name);
  for (std::string name; std::getline(names, name, '+');) {
    if (name == "sbn") {
      if (parsed.args.count("group")) return true;
      continue;
    }
    const NormEntry* e = find_norm(name);
    if (e && (e->family == NormFamily::batch || e->family == NormFamily::experiment)) return true;
  }
  return false;
}

void check_resume_world_size(const Checkpoint& ck, const TrainConfig& cfg, int world_size) {
  const int saved = ck.meta.at("config").value("world_size", 1);
  if (saved == world_size) return;
  if (statistics_are_per_rank(cfg.arch.norm)) {
    throw Error(ck.path + ": cannot resume on " + std::to_string(world_size) +
                " rank(s): the run was trained on " + std::to_string(saved) + ", and --norm " +
                cfg.arch.norm + " computes its statistics over each rank's samples (" +
                std::to_string(cfg.batch_size / saved) + " per rank then, " +
                std::to_string(cfg.batch_size / world_size) +
                " now), so the model would change. Resume with " + std::to_string(saved) +
                " rank(s) (mpirun -np " + std::to_string(saved) + "), or start a new run.");
  }
  std::printf(
      "note: resuming a %d-rank run on %d rank(s): --norm %s does not depend on how the batch "
      "is split, so the run continues the same training, with other rounding (not "
      "bit-identical to an uninterrupted run)\n",
      saved, world_size, cfg.arch.norm.c_str());
}

void check_memory_budget(const TrainConfig& cfg, int64_t num_classes) {
  const MemoryEstimate e =
      estimate_training_memory(cfg.model, cfg.arch.width, num_classes, cfg.batch_size);
  const double available = available_memory_bytes();
  if (available > 0 && e.total_bytes() > available)
    throw Error("train: " + cfg.model + " at --width " + std::to_string(cfg.arch.width) +
                " and --batch-size " + std::to_string(cfg.batch_size) + " needs about " +
                e.describe() + ", more than the " + format_bytes(available) +
                " this machine has available; lower --width, --batch-size or the depth");
}

void write_text_atomically(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!(f << text) || !f.flush())
      throw Error(tmp.string() + ": cannot write (" + std::strerror(errno) + ")");
  }
  std::error_code ec;
  fs::rename(tmp, file, ec);
  if (ec) throw Error(file.string() + ": cannot replace (" + ec.message() + ")");
}

void append_line(const fs::path& file, const std::string& line) {
  std::ofstream f(file, std::ios::app);
  if (!(f << line << "\n") || !f.flush())
    throw Error(file.string() + ": cannot append the metrics (" + std::strerror(errno) + ")");
}

}  // namespace nl::apps
