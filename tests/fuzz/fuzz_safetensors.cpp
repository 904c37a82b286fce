// libFuzzer harness for the checkpoint reader: any bytes must parse into tensors or throw
// nl::Error, and whatever parses must load into a model and its optimizer or be refused with
// nl::Error (shapes, dtypes, parameter groups, buffer indices), never crash.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "layers/linear.hpp"
#include "layers/optim/optimizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nl::SafetensorsFile file;
  try {
    file = nl::parse_safetensors("fuzz.safetensors", data, size);
  } catch (const nl::Error&) {
    return 0;
  }
  std::map<std::string, nl::Tensor> model_state, optimizer_state;
  for (auto& [k, t] : file.tensors) {
    if (k.rfind("model.", 0) == 0) model_state[k.substr(6)] = t;
    if (k.rfind("optimizer.", 0) == 0) optimizer_state[k.substr(10)] = t;
  }
  nl::Linear model(3, 2);
  try {
    model.load_state_dict(model_state);
  } catch (const nl::Error&) {
  }
  nl::SGD sgd({{.params = {model.weight}, .lr = 0.1, .momentum = 0.9},
               {.params = {model.bias}, .lr = 0.1, .momentum = 0.9}});
  try {
    sgd.load_state_dict(optimizer_state);
  } catch (const nl::Error&) {
  }
  return 0;
}
