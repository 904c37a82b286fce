#include "depth_experiment.hpp"

#include <cmath>

namespace course {

double growth_per_block(const std::vector<double>& variances) {
  // Least squares of y_k = log v_k on k: b = sum (k - kbar)(y_k - ybar) / sum (k - kbar)^2.
  const double count = double(variances.size());
  double k_mean = 0, y_mean = 0;
  for (size_t k = 0; k < variances.size(); ++k) {
    k_mean += double(k) / count;
    y_mean += std::log(variances[k]) / count;
  }
  double covariance = 0, k_spread = 0;
  for (size_t k = 0; k < variances.size(); ++k) {
    covariance += (double(k) - k_mean) * (std::log(variances[k]) - y_mean);
    k_spread += (double(k) - k_mean) * (double(k) - k_mean);
  }
  return std::exp(covariance / k_spread);
}

}  // namespace course
