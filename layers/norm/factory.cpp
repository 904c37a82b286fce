#include "layers/norm/factory.hpp"

#include <sstream>

#include "layers/activation.hpp"
#include "layers/container.hpp"
#include "layers/conv/conv2d.hpp"
#include "layers/linear.hpp"

namespace nl {

NormSpec NormSpec::parse(const std::string& spec) {
  NormSpec s;
  const auto colon = spec.find(':');
  s.name = spec.substr(0, colon);
  check(!s.name.empty(), "norm spec", "empty normalizer name in '", spec, "'");
  if (colon == std::string::npos) return s;
  std::stringstream rest(spec.substr(colon + 1));
  std::string item;
  while (std::getline(rest, item, ',')) {
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq);
    check(!key.empty(), "norm spec", "'", spec, "': an option without a name ('", item, "')");
    check(s.args.count(key) == 0, "norm spec", "'", spec, "' sets '", key,
          "' twice; give each option once");
    s.args[key] = eq == std::string::npos ? "true" : item.substr(eq + 1);
  }
  return s;
}

std::string NormSpec::str() const {
  std::string out = name;
  char sep = ':';
  for (auto& [k, v] : args) out += sep + k + "=" + v, sep = ',';
  return out;
}

namespace {

bool is_weight_side(const std::string& name) {
  const NormEntry* e = find_norm(name);
  return e != nullptr && e->family == NormFamily::weight;
}

NormSlot build_one(const NormSpec& spec, int64_t channels, const Shape& spatial,
                   bool activation_follows) {
  const NormEntry* entry = find_norm(spec.name);
  if (entry == nullptr)
    throw Error("norm spec: unknown normalizer '" + spec.name + "'; available:\n" +
                list_norms_text());
  const NormArgs args(spec.str(), entry->options, spec.args, spatial, activation_follows);
  return entry->build(args, channels);
}

NormSlot build_slot(const std::string& spec_text, int64_t channels, const Shape& spatial,
                    bool activation_follows) {
  const NormSpec spec = NormSpec::parse(spec_text);
  const auto plus = spec.name.find('+');
  if (plus == std::string::npos) return build_one(spec, channels, spatial, activation_follows);
  // "act+weight": the weight-side part's options carry its name as a prefix.
  NormSpec act{spec.name.substr(0, plus), {}}, weight{spec.name.substr(plus + 1), {}};
  check(!is_weight_side(act.name) && is_weight_side(weight.name), "norm spec", "'", spec_text,
        "': a combination is an activation normalizer then a weight-side one (ws, sws, wn, cwn, "
        "wc, sn), e.g. gn+ws");
  for (const auto& [key, value] : spec.args) {
    if (key.rfind(weight.name + ".", 0) == 0)
      weight.args[key.substr(weight.name.size() + 1)] = value;
    else
      act.args[key] = value;
  }
  NormSlot slot = build_one(act, channels, spatial, activation_follows);
  const NormSlot weight_side = build_one(weight, channels, spatial, activation_follows);
  check(!weight_side.includes_activation, "norm spec", "'", spec_text,
        "': wn:crelu replaces the activation and cannot be combined with another normalizer");
  slot.weight_normalizer = weight_side.weight_normalizer;
  return slot;
}

}  // namespace

NormSlot make_norm(const std::string& spec_text, int64_t channels, const Shape& spatial,
                   bool activation_follows) {
  NormSlot slot = build_slot(spec_text, channels, spatial, activation_follows);
  if (slot.weight_normalizer || slot.bind)
    slot.module->register_forward_hook(
        [attached = slot.attached, spec_text](Module&, const Tensor&, const Tensor&) {
          check(*attached, "norm spec", "'", spec_text,
                "' acts on the weights of the layer before it, but was never attached to one: "
                "build the pair with conv_norm_act(spec, conv, channels), or call "
                "attach_slot(slot, conv)");
        });
  return slot;
}

ModulePtr conv_norm_act(const std::string& spec, const ModulePtr& producer, int64_t channels,
                        const Shape& spatial, bool activation) {
  const NormSlot slot = make_norm(spec, channels, spatial, activation);
  attach_slot(slot, producer);
  auto block = std::make_shared<Sequential>();
  block->push_back(producer);
  block->push_back(slot.module);
  if (activation && !slot.includes_activation) block->push_back(std::make_shared<ReLU>());
  return block;
}

void attach_slot(const NormSlot& slot, const ModulePtr& producer) {
  *slot.attached = true;
  if (slot.weight_normalizer) {
    if (auto* conv = dynamic_cast<Conv2d*>(producer.get()))
      conv->attach_weight_normalizer(slot.weight_normalizer(conv->weight));
    else if (auto* linear = dynamic_cast<Linear*>(producer.get()))
      linear->attach_weight_normalizer(slot.weight_normalizer(linear->weight));
    else
      throw Error("attach_slot: " + producer->type_name() +
                  " has no weight to normalize (expected Conv2d or Linear)");
  }
  if (slot.bind) slot.bind(producer);
}

std::vector<NormInfo> list_norms() {
  std::vector<NormInfo> out;
  for (const NormEntry& e : norm_registry()) {
    std::string arguments;
    for (const NormOption& o : e.options) {
      arguments += (arguments.empty() ? "" : " ") + o.name;
      if (!o.fallback.empty()) arguments += "=" + o.fallback;
      if (o.kind == NormOption::Kind::word) arguments += " (" + o.values() + ")";
    }
    out.push_back({e.name, arguments, e.summary, family_title(e.family)});
  }
  return out;
}

std::string list_norms_text() {
  std::ostringstream os;
  std::string family;
  for (const NormInfo& i : list_norms()) {
    if (i.family != family) os << (family.empty() ? "" : "\n") << (family = i.family) << ":\n";
    os << "  " << i.name;
    for (size_t pad = i.name.size(); pad < 8; ++pad) os << ' ';
    os << i.description;
    if (!i.arguments.empty()) os << "\n          options: " << i.arguments;
    os << "\n";
  }
  return os.str();
}

}  // namespace nl
