#include "layers/norm/group_norm.hpp"

#include "layers/norm/affine.hpp"
#include "layers/norm/registry.hpp"

namespace nl {

GroupNorm::GroupNorm(int64_t g, int64_t c, double eps_, bool affine)
    : num_groups(g), num_channels(c), eps(eps_) {
  check(g >= 1 && c >= 1 && c % g == 0, "GroupNorm", "num_groups=", g,
        " must divide num_channels=", c);
  std::tie(weight, bias) = register_affine(*this, c, affine);
}

std::shared_ptr<GroupNorm> GroupNorm::with_group_size(int64_t size, int64_t c, double eps,
                                                      bool affine) {
  check(size >= 1 && c % size == 0, "GroupNorm", "group_size=", size,
        " must divide num_channels=", c);
  return std::make_shared<GroupNorm>(c / size, c, eps, affine);
}

Tensor GroupNorm::forward(const Tensor& x) {
  check(x.dim() >= 2 && x.shape()[1] == num_channels, "GroupNorm", "expected ", num_channels,
        " channels, got input ", shape_str(x.shape()));
  const StatLayout layout = StatLayout::of(x, num_groups, 1, "GroupNorm");
  return plane_norm(x, weight, bias, layout, eps, nullptr, "GroupNorm", math).y;
}

std::string GroupNorm::describe() const {
  return "GroupNorm(" + std::to_string(num_groups) + ", " + std::to_string(num_channels) +
         ", eps=" + std::to_string(eps) + ", affine=" + (weight.defined() ? "True" : "False") +
         (math.subtract_mean ? "" : ", subtract_mean=False") + ")";
}

NORMLAB_NORM(gn) {
  return {
      .name = "gn",
      .family = NormFamily::sample,
      .summary = "GroupNorm: per sample over groups of C/G channels and (H,W)",
      .options = {NormOption::count("groups", 8, "number of groups G (a count), dividing C"),
                  NormOption::count("group_size", 1,
                                    "channels per group S (a size), instead of groups: G = C/S")
                      .without_default(),
                  NormOption::number("eps", 1e-5, kEps, "added to the variance"),
                  NormOption::flag("affine", true, "learned per-channel gamma and beta")},
      .build =
          [](const NormArgs& a, int64_t c) {
            const double eps = a.number("eps");
            const bool affine = a.flag("affine");
            if (a.given("group_size")) {
              check(!a.given("groups"), "norm spec", "'", a.spec(),
                    "' gives both groups and group_size; give one");
              return NormSlot{GroupNorm::with_group_size(a.count("group_size"), c, eps, affine)};
            }
            return NormSlot{std::make_shared<GroupNorm>(a.count("groups"), c, eps, affine)};
          },
      .page = "",
      .example = "gn:groups=2"};
}

}  // namespace nl
