// Learning-rate (and momentum) schedules as closed-form functions of the step count, so their
// whole state is one integer. Like PyTorch: constructing one applies step 0, step() advances.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "layers/optim/optimizer.hpp"

namespace nl {

class Schedule {
 public:
  explicit Schedule(Optimizer& opt);
  virtual ~Schedule() = default;
  void step() { apply(++step_); }
  int64_t step_count() const { return step_; }
  void set_step(int64_t s) { apply(step_ = s); }  // restoring from a checkpoint
  double lr(size_t group = 0) const { return opt_.groups()[group].lr; }

  // Value of a group's lr at step t; base_lr is the group's lr when the schedule was made.
  virtual double lr_at(int64_t t, double base_lr) const = 0;
  virtual std::optional<double> momentum_at(int64_t) const { return std::nullopt; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 protected:
  void apply(int64_t t);
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  int64_t step_ = 0;
};

// lr = base * gamma^(t / step_size)
class StepLR : public Schedule {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t t, double base) const override;
  int64_t step_size;
  double gamma;
};

// lr = base * gamma^(number of milestones <= t)
class MultiStepLR : public Schedule {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t t, double base) const override;
  std::vector<int64_t> milestones;
  double gamma;
};

// lr = eta_min + (base - eta_min) (1 + cos(pi t / T_max)) / 2
class CosineLR : public Schedule {
 public:
  CosineLR(Optimizer& opt, int64_t t_max, double eta_min = 0);
  double lr_at(int64_t t, double base) const override;
  int64_t t_max;
  double eta_min;
};

// PyTorch OneCycleLR (two phases). initial = max_lr / div_factor, min = initial / final_div.
// Phase 1 (t <= pct_start*total - 1): lr initial -> max_lr, momentum max_m -> base_m.
// Phase 2 (to total - 1):             lr max_lr -> min,     momentum base_m -> max_m.
// Annealing linear or cosine between the phase ends.
struct OneCycleOptions {
  double max_lr = 0.1;
  int64_t total_steps = 1;
  double pct_start = 0.3;
  bool cosine = true;
  double div_factor = 25, final_div_factor = 1e4;
  bool cycle_momentum = true;
  double base_momentum = 0.85, max_momentum = 0.95;
};
class OneCycleLR : public Schedule {
 public:
  OneCycleLR(Optimizer& opt, OneCycleOptions o);
  double lr_at(int64_t t, double base) const override;
  std::optional<double> momentum_at(int64_t t) const override;
  OneCycleOptions o;

 private:
  double phase_value(int64_t t, double a1, double b1, double b2) const;
};

// Linear warm-up from warmup_start * lr to lr over `warmup_steps`, then the inner schedule
// (which sees t - warmup_steps).
class LinearWarmup : public Schedule {
 public:
  LinearWarmup(Optimizer& opt, int64_t warmup_steps, std::unique_ptr<Schedule> inner,
               double warmup_start = 0.0);
  double lr_at(int64_t t, double base) const override;

 private:
  int64_t warmup_;
  std::unique_ptr<Schedule> inner_;
  double start_;
};

}  // namespace nl
