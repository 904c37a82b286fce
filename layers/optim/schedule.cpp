#include "layers/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nl {

Schedule::Schedule(Optimizer& opt) : opt_(opt) {
  for (auto& g : opt.groups()) base_lrs_.push_back(g.lr);
}

void Schedule::apply(int64_t t) {
  auto& groups = opt_.groups();
  const auto m = momentum_at(t);
  for (size_t g = 0; g < groups.size(); ++g) {
    groups[g].lr = lr_at(t, base_lrs_[g]);
    if (m) groups[g].momentum = *m;
  }
}

StepLR::StepLR(Optimizer& opt, int64_t s, double g) : Schedule(opt), step_size(s), gamma(g) {
  check(s >= 1, "StepLR", "step_size must be >= 1");
  apply(0);
}
double StepLR::lr_at(int64_t t, double base) const {
  const int64_t decays = t / step_size;  // floor: the lr drops at whole multiples of step_size
  return base * std::pow(gamma, double(decays));
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> m, double g)
    : Schedule(opt), milestones(std::move(m)), gamma(g) {
  std::sort(milestones.begin(), milestones.end());
  apply(0);
}
double MultiStepLR::lr_at(int64_t t, double base) const {
  const auto passed =
      std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin();
  return base * std::pow(gamma, double(passed));
}

CosineLR::CosineLR(Optimizer& opt, int64_t tm, double em) : Schedule(opt), t_max(tm), eta_min(em) {
  check(tm >= 1, "CosineLR", "t_max must be >= 1");
  apply(0);
}
double CosineLR::lr_at(int64_t t, double base) const {
  const double progress = std::min<double>(t, t_max) / double(t_max);
  return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * progress)) / 2;
}

OneCycleLR::OneCycleLR(Optimizer& opt, OneCycleOptions oc) : Schedule(opt), o(oc) {
  check(o.total_steps >= 2, "OneCycleLR", "total_steps must be >= 2");
  check(o.pct_start > 0 && o.pct_start < 1, "OneCycleLR", "pct_start must be in (0, 1)");
  apply(0);
}

double OneCycleLR::phase_value(int64_t t, double start, double peak, double end) const {
  const double end1 = o.pct_start * double(o.total_steps) - 1, end2 = double(o.total_steps - 1);
  auto anneal = [&](double a, double b, double pct) {
    return o.cosine ? b + (a - b) / 2 * (std::cos(std::numbers::pi * pct) + 1) : (b - a) * pct + a;
  };
  const double tt = double(t);
  if (tt <= end1) return anneal(start, peak, tt / end1);
  return anneal(peak, end, std::min(1.0, (tt - end1) / (end2 - end1)));
}

double OneCycleLR::lr_at(int64_t t, double) const {
  const double initial = o.max_lr / o.div_factor;
  return phase_value(t, initial, o.max_lr, initial / o.final_div_factor);
}

std::optional<double> OneCycleLR::momentum_at(int64_t t) const {
  if (!o.cycle_momentum) return std::nullopt;
  return phase_value(t, o.max_momentum, o.base_momentum, o.max_momentum);
}

LinearWarmup::LinearWarmup(Optimizer& opt, int64_t w, std::unique_ptr<Schedule> inner, double s)
    : Schedule(opt), warmup_(w), inner_(std::move(inner)), start_(s) {
  check(inner_ != nullptr, "LinearWarmup", "needs an inner schedule");
  base_lrs_ = inner_->base_lrs();
  apply(0);
}

double LinearWarmup::lr_at(int64_t t, double base) const {
  if (t < warmup_) {
    const double target = inner_->lr_at(0, base);
    return target * (start_ + (1 - start_) * double(t) / double(warmup_));
  }
  return inner_->lr_at(t - warmup_, base);
}

}  // namespace nl
