// evaluate: test accuracy and the per-class confusion matrix of a training checkpoint.
//   evaluate runs/bn/checkpoint.safetensors --data ../shared/datasets/cifar10-jpeg
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "apps/common/checkpoint.hpp"
#include "apps/common/guarded_main.hpp"
#include "apps/common/noisy_batch_norm.hpp"
#include "apps/common/training.hpp"
#include "core/parallel.hpp"
#include "core/safetensors.hpp"
#include "layers/models/resnet.hpp"

namespace {

int run(int argc, char** argv) {
  nl::register_noisy_batch_norm();  // the probes' experiment normalizer, also trainable
  CLI::App app{"normlab evaluate: accuracy and confusion matrix of a checkpoint"};
  std::string checkpoint, data_dir;
  int threads = 0;
  app.add_option("checkpoint", checkpoint, "checkpoint.safetensors written by train")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--data", data_dir, "image folder or CIFAR-10 binary folder")->required();
  app.add_option("--threads", threads);
  std::string dump_logits;
  app.add_option("--dump-logits", dump_logits,
                 "write the test set's logits (N x classes, float32), labels (int64) and class "
                 "names to this safetensors file");
  int64_t recalibrate = 0;
  bool recalibrate_plain = false;
  app.add_option("--recalibrate", recalibrate,
                 "first recompute the normalizers' running statistics as the plain average over "
                 "this many training images, in training batches with the training augmentation "
                 "(precise BN; PyTorch's swa_utils.update_bn); 0: use the checkpoint's")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--recalibrate-plain", recalibrate_plain,
               "recalibrate on the training images without augmentation");
  CLI11_PARSE(app, argc, argv);
  try {
    nl::set_num_threads(threads);
    const nl::apps::Checkpoint ck = nl::apps::load_checkpoint(checkpoint);
    const auto cfg = nl::apps::TrainConfig::from_json(ck.meta.at("config"));
    const auto data = nl::apps::load_cifar(data_dir, /*test_only=*/recalibrate == 0);
    // The model's outputs are in the order of the classes it was trained on: a test folder
    // with other classes (or the same names in another order) would be scored wrongly.
    if (ck.meta.contains("classes"))
      nl::apps::check_same_classes(ck.meta["classes"].get<std::vector<std::string>>(),
                                   data.test->class_names(),
                                   checkpoint + " (the classes it was trained on) and " + data_dir);
    const auto norm = nl::apps::checkpoint_normalization(ck, data.test->channels());
    nl::apps::check_finite_state(ck.model, checkpoint);
    // kaiming_normal only changes the initial weights, which the checkpoint replaces.
    auto model = nl::make_model(cfg.model, cfg.arch_for(data.test->num_classes()));
    try {
      model->load_state_dict(ck.model);
    } catch (const nl::Error& e) {
      throw nl::Error(checkpoint + ": " + e.what());
    }
    if (recalibrate > 0) {
      const nl::RecomputedStats done = nl::apps::recalibrate_running_stats(
          *model, *data.train, cfg, norm.mean, norm.std, recalibrate, recalibrate_plain);
      if (done.buffers_averaged == 0)
        std::printf(
            "--recalibrate: the model keeps no running statistics (norm %s); nothing "
            "changed\n",
            cfg.arch.norm.c_str());
      else
        std::printf("recomputed %lld running statistics over %lld training images (%s)\n",
                    (long long)done.buffers_averaged, (long long)done.batches * cfg.batch_size,
                    recalibrate_plain ? "no augmentation" : "training augmentation");
    }
    const auto r =
        nl::apps::evaluate(*model, *data.test, norm.mean, norm.std, 500, !dump_logits.empty());
    if (!dump_logits.empty()) {
      nl::SafetensorsFile out;
      out.tensors["logits"] = r.logits;
      std::vector<double> labels(size_t(data.test->size()));
      for (int64_t i = 0; i < data.test->size(); ++i)
        labels[size_t(i)] = double(data.test->label(i));
      out.tensors["labels"] = nl::Tensor::from_vector(labels, {data.test->size()}, nl::DType::f64);
      out.int64_tensors.insert("labels");
      out.metadata["classes"] = nlohmann::json(data.test->class_names()).dump();
      out.metadata["checkpoint"] = checkpoint;
      nl::save_safetensors(dump_logits, out);
      std::printf("wrote %s (logits of %lld images)\n", dump_logits.c_str(),
                  (long long)data.test->size());
    }
    std::printf("%s: test accuracy %.2f%%, loss %.4f on %lld images\n\n", checkpoint.c_str(),
                100 * r.accuracy, r.loss, (long long)data.test->size());
    const auto& names = data.test->class_names();
    std::printf("%-12s", "true\\pred");
    for (size_t j = 0; j < names.size(); ++j) std::printf("%6.5s", names[j].c_str());
    std::printf("  %7s\n", "recall");
    for (size_t i = 0; i < names.size(); ++i) {
      std::printf("%-12s", names[i].c_str());
      int64_t row = 0;
      for (size_t j = 0; j < names.size(); ++j)
        std::printf("%6lld", (long long)r.confusion[i][j]), row += r.confusion[i][j];
      std::printf("  %6.2f%%\n", row ? 100.0 * r.confusion[i][i] / row : 0.0);
    }
  } catch (const std::exception& e) {
    std::cerr << "evaluate: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return nl::apps::guarded_main("evaluate", [&] { return run(argc, argv); });
}
