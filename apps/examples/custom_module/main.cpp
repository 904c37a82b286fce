// Your own Module with its own parameters: a "scaled tanh" layer y = a * tanh(b * x) with a
// learnable a and b per feature, registered so that parameters(), state_dict() and the
// optimizer see them, then trained inside a Sequential and saved/loaded as a checkpoint.
#include <cstdio>
#include <normlab/normlab.hpp>

class ScaledTanh : public nl::Module {
 public:
  explicit ScaledTanh(int64_t features) {
    // register_parameter: trained, in state_dict() as "a" and "b" (prefixed by the parent).
    a = register_parameter("a", nl::Tensor::ones({features}).requires_grad_());
    b = register_parameter("b", nl::Tensor::ones({features}).requires_grad_());
  }
  nl::Tensor forward(const nl::Tensor& x) override {
    return a * nl::tanh(b * x);  // (N, F) * (F): broadcasting; autograd derives the backward
  }
  std::string type_name() const override { return "ScaledTanh"; }
  nl::Tensor a, b;
};

int main() {
  nl::manual_seed(0);
  const nl::Tensor x = nl::Tensor::randn({256, 4});
  const nl::Tensor target = 3.0 * nl::tanh(0.5 * x);  // what a = 3, b = 0.5 would give

  auto layer = std::make_shared<ScaledTanh>(4);
  nl::Sequential model({layer});
  nl::Adam opt({{.params = model.parameters(), .lr = 0.05}});
  for (int step = 0; step < 500; ++step) {
    opt.zero_grad();
    nl::Tensor loss = nl::mean(nl::square(model(x) - target));
    loss.backward();
    opt.step();
  }
  std::printf("a = %.3f (want 3), b = %.3f (want 0.5)\n", layer->a.to_vector()[0],
              layer->b.to_vector()[0]);

  // A checkpoint round trip through safetensors, names as in PyTorch ("0.a", "0.b").
  nl::SafetensorsFile file;
  for (auto& [name, t] : model.state_dict()) file.tensors[name] = t;
  nl::save_safetensors("scaled_tanh.safetensors", file);
  nl::Sequential reloaded({std::make_shared<ScaledTanh>(4)});
  reloaded.load_state_dict(nl::load_safetensors("scaled_tanh.safetensors").tensors);
  const double diff = nl::max(nl::abs(reloaded(x) - model(x))).item();
  std::printf("reloaded model differs by %.1e\n", diff);
  const bool learned =
      std::abs(layer->a.to_vector()[0] - 3) < 0.1 && std::abs(layer->b.to_vector()[0] - 0.5) < 0.05;
  return learned && diff == 0 ? 0 : 1;
}
