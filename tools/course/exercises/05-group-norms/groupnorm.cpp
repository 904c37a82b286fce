#include "groupnorm.hpp"

#include "grader/grader.hpp"

namespace course {

GroupNormForward groupnorm_forward(const GroupShape& s, const std::vector<double>& x,
                                   const std::vector<double>& gamma,
                                   const std::vector<double>& beta, double eps) {
  // TODO: per (n, g): mean and rstd over the group's (C/G) H W values; then y per element.
  (void)s, (void)x, (void)gamma, (void)beta, (void)eps;
  todo("groupnorm_forward");
}

GroupNormGrads groupnorm_backward(const GroupShape& s, const std::vector<double>& x,
                                  const std::vector<double>& gamma, const GroupNormForward& fwd,
                                  const std::vector<double>& dy) {
  // TODO: dbeta, dgamma per channel; dx per (n, g) from g = gamma_c dy, mean(g), mean(g xhat).
  (void)s, (void)x, (void)gamma, (void)fwd, (void)dy;
  todo("groupnorm_backward");
}

}  // namespace course
