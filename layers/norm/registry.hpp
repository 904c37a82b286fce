// The normalizer registry. Every normalizer declares itself once, in its own .cpp file:
//
//   NORMLAB_NORM(gn) {                       // inside namespace nl
//     return {.name = "gn", .family = NormFamily::sample,
//             .summary = "GroupNorm: per sample over groups of C/G channels and (H,W)",
//             .options = {NormOption::count("groups", 8, "number of groups G, dividing C"), ...},
//             .build = [](const NormArgs& a, int64_t c) { return NormSlot{...}; }};
//   }
//
// The option table is the only statement of a spec's options and defaults: it drives make_norm's
// parsing and its errors (unknown option, bad value, out of range), `train --list-norms`, the
// option table of the docs page (tests/test_norm_registry.cpp checks the page against it), and
// the generic tests, which build every entry from its `example` spec. CMake collects the
// NORMLAB_NORM lines of layers/norm/ into one generated file, so a new normalizer is one new
// source file; apps and users add their own at run time with register_norm.
// docs/norms/adding-a-norm.md walks through a complete example. (The build functions read their
// options into the layer's own options struct one line per option, so they look alike across
// layers: duplicates lists them as same-shape pairs.)
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "layers/module.hpp"

namespace nl {

// What a norm slot of a model holds: the module, and what the model must do around it.
struct NormSlot {
  using WeightNormalizerFactory = std::function<ModulePtr(const Tensor& raw_weight)>;
  using Binder = std::function<void(const ModulePtr& producer)>;

  ModulePtr module;                  // Identity for "none" and for weight-only specs
  bool includes_activation = false;  // the module applies its own nonlinearity
  // Set by weight-side specs (ws, wn, ... alone or as in "gn+ws"): builds the normalizer the
  // model attaches to the convolution feeding this slot (Conv2d::attach_weight_normalizer).
  WeightNormalizerFactory weight_normalizer;
  // Set by layers that read the layer feeding them (cbn differentiates its statistics w.r.t.
  // that convolution's weight).
  Binder bind;
  // Set by attach_slot. A slot with a weight-side part or a binder refuses to run its forward
  // until it has been attached, so `gn+ws` can never silently train as plain `gn`.
  std::shared_ptr<bool> attached = std::make_shared<bool>(false);

  // NormSlot{module} and NormSlot{module, true} leave the rest empty.
  NormSlot(ModulePtr m = nullptr, bool activation = false, WeightNormalizerFactory wn = {},
           Binder b = {})
      : module(std::move(m)),
        includes_activation(activation),
        weight_normalizer(std::move(wn)),
        bind(std::move(b)) {}
};

// A weight-only slot: Identity in the slot, `factory`'s normalizer on the layer before it.
NormSlot weight_side_slot(NormSlot::WeightNormalizerFactory factory);

// The values a number option accepts: [lo, hi], either end open. NaN is never in range.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  bool contains(double v) const;
  std::string str() const;  // "(0, 1]"
};
inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline const Range kPositive{0, kInfinity, true, true};      // scales
inline const Range kNonNegative{0, kInfinity, false, true};  // clip limits, step counts
inline const Range kUnit{0, 1};                              // momenta, mixing weights
inline const Range kEps{0, 1, true, false};                  // variance floors

// One option of a normalizer's spec.
struct NormOption {
  enum class Kind { number, count, flag, word };
  std::string name;
  Kind kind = Kind::number;
  std::string fallback;            // the default, as a spec writes it ("" = not set)
  Range range;                     // number
  std::vector<std::string> words;  // word: the allowed values; number: words accepted besides
                                   // numbers ("none", "inf")
  std::string help;

  static NormOption number(std::string name, double fallback, Range range, std::string help,
                           std::vector<std::string> words = {});
  static NormOption count(std::string name, int64_t fallback, std::string help);
  static NormOption flag(std::string name, bool fallback, std::string help);
  static NormOption word(std::string name, std::string fallback, std::vector<std::string> words,
                         std::string help);
  // An option with no default (an alternative to another one, e.g. gn's group_size).
  NormOption without_default() const;
  std::string values() const;  // what it accepts, in words: "(0, 1]", "true|false", ...
};

// A spec's options, parsed and checked against the entry's table when make_norm builds it:
// every key is declared, every value has the declared type and range.
class NormArgs {
 public:
  NormArgs(const std::string& spec, const std::vector<NormOption>& options,
           const std::map<std::string, std::string>& given, Shape spatial, bool activation_follows);
  double number(const std::string& name) const;  // a number option (NaN if it has no default)
  int64_t count(const std::string& name) const;
  bool flag(const std::string& name) const;
  std::string word(const std::string& name) const;  // a word option, or a number option's word
  bool given(const std::string& name) const;        // set in the spec, not defaulted
  const std::string& spec() const { return spec_; }

  const Shape spatial;            // {H, W} of the slot, when the model knows it
  const bool activation_follows;  // a ReLU comes right after the slot

 private:
  const NormOption& option(const std::string& name, NormOption::Kind kind) const;
  const std::string& value(const std::string& name) const;
  std::string spec_;
  const std::vector<NormOption>& options_;
  std::map<std::string, std::string> values_;  // every declared option: given or default
  std::map<std::string, std::string> given_;
};

// Groups for --list-norms and the docs index.
enum class NormFamily { identity, batch, sample, position, weight, experiment };
// The family's heading in --list-norms and the docs index: "batch statistics", "per sample", ...
const char* family_title(NormFamily family);

struct NormEntry {
  std::string name = "";  // the spec's name: "gn"
  NormFamily family = NormFamily::sample;
  std::string summary = "";              // one line for --list-norms
  std::vector<NormOption> options = {};  // the only statement of its options and defaults
  std::function<NormSlot(const NormArgs&, int64_t channels)> build = nullptr;
  std::string page = "";     // docs/norms/<page>.md; "" = the name
  std::string example = "";  // a spec that builds for 4 channels (generic tests); "" = the name
  // The training backward is the derivative of the training forward, so gradcheck applies in
  // train mode. False for a stochastic forward (noisybn) or a control-process backward (online).
  bool exact_training_gradient = true;
  std::string page_or_name() const { return page.empty() ? name : page; }
  std::string example_or_name() const { return example.empty() ? name : example; }
};

// Every registered normalizer, built-in ones first, in --list-norms order (by family, then in
// the order of their source files).
const std::vector<NormEntry>& norm_registry();
// The entry called `name`, or nullptr.
const NormEntry* find_norm(const std::string& name);
// Adds a normalizer at run time (an app's experiment, a user's own layer): make_norm and
// --list-norms know it from then on. A name already taken is an error.
void register_norm(NormEntry entry);

// The option table of an entry's docs page (markdown), as the page must show it.
std::string norm_options_markdown(const NormEntry& entry);

}  // namespace nl

// Declares a built-in normalizer (see the top of this file); use inside namespace nl.
#define NORMLAB_NORM(id) ::nl::NormEntry normlab_norm_entry_##id()
