// A small CNN with a normalizer from the factory, trained on a synthetic image task (the colour
// of a square decides the class). Pass a spec to try another normalizer: ./cnn gn+ws:groups=4
#include <cstdio>
#include <normlab/normlab.hpp>
#include <string>

int main(int argc, char** argv) {
  const std::string norm = argc > 1 ? argv[1] : "bn";
  nl::manual_seed(0);
  nl::Generator gen(1);
  const int64_t n = 256, classes = 3;
  nl::Tensor images = nl::Tensor::randn({n, 3, 16, 16}, gen) * 0.3;
  std::vector<double> labels(n);
  float* px = images.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % classes;  // a bright square in colour plane c
    labels[i] = double(c);
    for (int64_t h = 4; h < 12; ++h)
      for (int64_t w = 4; w < 12; ++w) px[((i * 3 + c) * 16 + h) * 16 + w] += 1.5f;
  }
  const nl::Tensor y = nl::Tensor::from_vector(labels, {n});

  // conv_norm_act: conv, normalizer (weight-side part attached), ReLU unless the norm has one.
  auto model = std::make_shared<nl::Sequential>();
  model->push_back(
      nl::conv_norm_act(norm, std::make_shared<nl::Conv2d>(3, 16, 3, 1, 1, false), 16));
  model->push_back(std::make_shared<nl::MaxPool2d>(2));
  model->push_back(
      nl::conv_norm_act(norm, std::make_shared<nl::Conv2d>(16, 32, 3, 1, 1, false), 32));
  model->push_back(std::make_shared<nl::AdaptiveAvgPool2d>(1));
  model->push_back(std::make_shared<nl::Flatten>());
  model->push_back(std::make_shared<nl::Linear>(32, classes));
  std::printf("%s", model->tree().c_str());
  nl::SGD opt({{.params = model->parameters(), .lr = 0.05, .momentum = 0.9}});

  for (int epoch = 1; epoch <= 8; ++epoch) {
    model->train();
    double loss = 0;
    for (int64_t start = 0; start < n; start += 32) {
      const nl::Tensor xb = images.narrow(0, start, 32);
      const nl::Tensor yb = y.narrow(0, start, 32);
      opt.zero_grad();
      nl::Tensor l = nl::cross_entropy((*model)(xb), yb);
      l.backward();
      opt.step();
      loss += l.item() / (n / 32);
    }
    std::printf("epoch %d  loss %.4f\n", epoch, loss);
  }
  model->eval();  // running statistics from here on
  nl::NoGradGuard no_grad;
  const double acc = nl::accuracy((*model)(images), y);
  std::printf("%s: accuracy %.1f%%\n", norm.c_str(), 100 * acc);
  return acc > 0.9 ? 0 : 1;
}
