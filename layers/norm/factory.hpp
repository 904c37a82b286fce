// The normalizer factory: the spec grammar and the combination of an activation normalizer with
// a weight-side one; the normalizers themselves and their options are in the registry
// (layers/norm/registry.hpp), each declared beside its own code. Every norm slot of a model is
// filled from a spec string
//   name[:key=value,key=value,flag]      e.g.  bn   gn:groups=8   gn:group_size=4 bn:momentum=0.01
// A name may combine an activation normalizer with a weight-side one: "gn+ws:groups=8"; options
// for the weight-side part then carry its name as a prefix ("gn+ws:groups=8,ws.eps=1e-5").
// `--list-norms` prints list_norms(). A slot may hold a layer that also applies the activation
// (FRN+TLU, EvoNorm); models then skip their own ReLU after it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "layers/module.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

struct NormSpec {
  std::string name;
  std::map<std::string, std::string> args;  // flags map to "true"
  static NormSpec parse(const std::string& spec);
  std::string str() const;
};

// Connects a slot to `producer`, the Conv2d or Linear whose output it normalizes: attaches
// slot.weight_normalizer to it and runs slot.bind. Models call it for every slot.
void attach_slot(const NormSlot& slot, const ModulePtr& producer);

// Builds the normalizer for a slot with `channels` channels; throws naming the spec on an
// unknown name, an unknown argument or a bad value (e.g. groups not dividing channels).
// `spatial` ({H, W} of the slot's feature map) is needed only by layers whose parameters have
// a spatial shape (ln:elementwise); the models pass it. `activation_follows` says whether the
// model applies a ReLU right after the slot (false for the last norm of a residual branch and
// for shortcuts): layers that correct the post-activation moments (pn) need to know.
NormSlot make_norm(const std::string& spec, int64_t channels, const Shape& spatial = {},
                   bool activation_follows = true);

// The usual way to use a normalizer: the layer producing the features, then the normalizer,
// then a ReLU unless the normalizer applies its own (FRN+TLU, EvoNorm, Proxy Norm), as one
// Sequential, with any weight-side part attached to `producer` (a Conv2d or Linear). Nothing
// can be forgotten: neither the activation nor the attachment.
//   auto block = conv_norm_act("gn+ws:groups=8", std::make_shared<Conv2d>(3, 32, 3, 1, 1), 32);
// activation = false leaves the ReLU out (e.g. before a residual add).
ModulePtr conv_norm_act(const std::string& spec, const ModulePtr& producer, int64_t channels,
                        const Shape& spatial = {}, bool activation = true);

struct NormInfo {
  std::string name, arguments, description, family;  // family: its family_title
};
std::vector<NormInfo> list_norms();
std::string list_norms_text();

}  // namespace nl
