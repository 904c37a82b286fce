// evaluate: test accuracy and the per-class confusion matrix of a training checkpoint.
//   evaluate runs/bn/checkpoint.safetensors --data ../shared/datasets/cifar10-jpeg
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "apps/common/training.hpp"
#include "core/parallel.hpp"
#include "layers/models/resnet.hpp"

int main(int argc, char** argv) {
  CLI::App app{"normlab evaluate: accuracy and confusion matrix of a checkpoint"};
  std::string checkpoint, data_dir;
  int threads = 0;
  app.add_option("checkpoint", checkpoint, "checkpoint.safetensors written by train")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--data", data_dir, "image folder or CIFAR-10 binary folder")->required();
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);
  try {
    nl::set_num_threads(threads);
    nl::apps::Checkpoint ck = nl::apps::load_checkpoint(checkpoint);
    const auto& cfg = ck.meta.at("config");
    auto data = nl::apps::load_cifar(data_dir);
    const nl::ModelOptions options{cfg.at("width"), cfg.at("norm"), int(data.test->num_classes()),
                                   false, cfg.value("residual", std::string("plain"))};
    auto model = nl::make_model(cfg.at("model"), options);
    model->load_state_dict(ck.model);
    const auto mean = ck.meta.at("mean").get<std::vector<float>>(),
               sd = ck.meta.at("std").get<std::vector<float>>();
    const auto r = nl::apps::evaluate(*model, *data.test, mean, sd);
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
}
