#include "partial_batchnorm.hpp"

#include "grader/grader.hpp"

namespace course {

std::vector<double> mean_only_forward(const PartialShape& s, const std::vector<double>& x,
                                      const std::vector<double>& gamma,
                                      const std::vector<double>& beta) {
  // TODO: y = gamma_c (x - mean_c) + beta_c
  (void)s, (void)x, (void)gamma, (void)beta;
  todo("mean_only_forward");
}

PartialGrads mean_only_backward(const PartialShape& s, const std::vector<double>& x,
                                const std::vector<double>& gamma, const std::vector<double>& dy) {
  // TODO: dbeta, dgamma (sum dy (x - mean_c)) and dx
  (void)s, (void)x, (void)gamma, (void)dy;
  todo("mean_only_backward");
}

std::vector<double> variance_only_forward(const PartialShape& s, const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const std::vector<double>& beta, double eps) {
  // TODO: y = gamma_c x rstd_c + beta_c
  (void)s, (void)x, (void)gamma, (void)beta, (void)eps;
  todo("variance_only_forward");
}

PartialGrads variance_only_backward(const PartialShape& s, const std::vector<double>& x,
                                    const std::vector<double>& gamma, const std::vector<double>& dy,
                                    double eps) {
  // TODO: dbeta, dgamma (sum dy x rstd_c) and dx = direct term + the path through rstd_c
  (void)s, (void)x, (void)gamma, (void)dy, (void)eps;
  todo("variance_only_backward");
}

}  // namespace course
