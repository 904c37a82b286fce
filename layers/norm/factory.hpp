// The normalizer factory: every norm slot of a model is filled from a spec string
//   name[:key=value,key=value,flag]      e.g.  bn   gn:groups=8   gn:group_size=4 bn:momentum=0.01
// `--list-norms` prints list_norms(). A slot may hold a layer that also applies the activation
// (FRN+TLU, EvoNorm); models then skip their own ReLU after it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layers/module.hpp"

namespace nl {

struct NormSpec {
  std::string name;
  std::map<std::string, std::string> args;  // flags map to "true"
  static NormSpec parse(const std::string& spec);
  std::string str() const;
};

struct NormSlot {
  ModulePtr module;                  // Identity for "none"
  bool includes_activation = false;  // the module applies its own nonlinearity
};

// Builds the normalizer for a slot with `channels` channels; throws naming the spec on an
// unknown name, an unknown argument or a bad value (e.g. groups not dividing channels).
// `spatial` ({H, W} of the slot's feature map) is needed only by layers whose parameters have
// a spatial shape (ln:elementwise); the models pass it.
NormSlot make_norm(const std::string& spec, int64_t channels, const Shape& spatial = {});

struct NormInfo {
  std::string name, arguments, description;
};
std::vector<NormInfo> list_norms();
std::string list_norms_text();

}  // namespace nl
