// A two-layer MLP with LayerNorm learns two interleaved spirals: the smallest complete
// training loop (data, model, loss, backward, optimizer step, evaluation).
#include <cmath>
#include <cstdio>
#include <normlab/normlab.hpp>

int main() {
  nl::manual_seed(0);  // one seed for the data and the initialisation
  const int64_t n = 512;
  std::vector<double> points, labels;  // two spirals in the plane, class = which spiral
  for (int64_t i = 0; i < n; ++i) {
    const double t = 4.0 * (i / 2) / n * 3.14159, r = 0.2 + t / 4, cls = double(i % 2);
    points.push_back(r * std::cos(t + 3.14159 * cls));
    points.push_back(r * std::sin(t + 3.14159 * cls));
    labels.push_back(cls);
  }
  const nl::Tensor x = nl::Tensor::from_vector(points, {n, 2});
  const nl::Tensor y = nl::Tensor::from_vector(labels, {n});

  auto model = std::make_shared<nl::Sequential>();
  model->push_back(std::make_shared<nl::Linear>(2, 64));
  model->push_back(nl::make_norm("ln", 64).module);  // LayerNorm over the 64 features
  model->push_back(std::make_shared<nl::ReLU>());
  model->push_back(std::make_shared<nl::Linear>(64, 2));
  nl::SGD opt({{.params = model->parameters(), .lr = 0.2, .momentum = 0.9}});

  double loss = 0;
  for (int step = 1; step <= 300; ++step) {
    opt.zero_grad();
    nl::Tensor l = nl::cross_entropy((*model)(x), y);
    l.backward();
    opt.step();
    loss = l.item();
    if (step % 100 == 0) std::printf("step %d  loss %.4f\n", step, loss);
  }
  model->eval();
  const double acc = nl::accuracy((*model)(x), y);
  std::printf("train accuracy %.1f%%\n", 100 * acc);
  return acc > 0.9 ? 0 : 1;  // the example doubles as a test
}
