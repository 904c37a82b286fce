// The course's grading kit. Every grade_<exercise>.cpp runs a list of named checks on the
// student's functions and reports the way a teaching assistant would: which check failed, at
// which index, what the student's code gave and what was expected, and the tolerance.
//
// Checks compare with normlab's own layers (the fast kernels, themselves tested against the
// readable references in layers/*/reference) and run normlab's float64 gradcheck (random
// projection, central differences; autograd/gradcheck.hpp) on the student's forward/backward.
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <normlab/normlab.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace course {

using Array = std::vector<double>;

// The templates' bodies call todo("name"): the grader then says the function is not written yet.
struct NotImplemented : std::logic_error {
  using std::logic_error::logic_error;
};
[[noreturn]] inline void todo(const char* function) {
  throw NotImplemented(std::string(function) + " is not implemented yet");
}

class Grader {
 public:
  explicit Grader(std::string exercise) : exercise_(std::move(exercise)) {
    std::printf("grading %s\n", exercise_.c_str());
  }

  // Runs one check. `body` returns "" when the check passes and otherwise says what is wrong.
  // Exceptions (the template's todo(), normlab's shape errors) fail the check with their text.
  void check(const std::string& name, const std::function<std::string()>& body) {
    std::string problem;
    try {
      problem = body();
    } catch (const std::exception& e) {
      problem = e.what();
    }
    ++run_;
    if (problem.empty()) {
      ++passed_;
      std::printf("  PASS  %s\n", name.c_str());
    } else {
      std::printf("  FAIL  %s\n        %s\n", name.c_str(), problem.c_str());
    }
  }

  // Prints the tally; the exit code of the grader (0 only when every check passed).
  int result() const {
    std::printf("%s: %d of %d checks passed\n", exercise_.c_str(), passed_, run_);
    return passed_ == run_ && run_ > 0 ? 0 : 1;
  }

 private:
  std::string exercise_;
  int run_ = 0, passed_ = 0;
};

// "[1, 2, 0, 3]": the multi-index of flat position `flat` in a row-major array of `shape`.
inline std::string index_of(size_t flat, const nl::Shape& shape) {
  nl::Shape idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = int64_t(flat) % shape[d];
    flat /= size_t(shape[d]);
  }
  return nl::shape_str(idx);
}

// "" when `got` equals `expected` within |got - expected| <= tol (1 + |expected|) everywhere;
// otherwise names the worst element. `shape` is expected's shape, for the index.
inline std::string compare(const std::string& name, const Array& got, const Array& expected,
                           const nl::Shape& shape, double tol = 1e-9) {
  std::ostringstream os;
  if (got.size() != expected.size()) {
    os << name << " has " << got.size() << " values, expected " << expected.size() << " (shape "
       << nl::shape_str(shape) << ")";
    return os.str();
  }
  size_t worst = 0;
  double worst_excess = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(got[i] - expected[i]);
    const double excess = std::isfinite(got[i]) ? err / (1 + std::abs(expected[i])) : INFINITY;
    if (excess > worst_excess) worst = i, worst_excess = excess;
  }
  if (worst_excess <= tol) return "";
  os.precision(6);
  os << name << index_of(worst, shape) << " is " << got[worst] << ", expected " << expected[worst]
     << " (difference " << std::abs(got[worst] - expected[worst]) << ", tolerance " << tol
     << " x (1 + |expected|))";
  return os.str();
}

// n values from N(0, 1) * scale + shift, the same for the same seed.
inline Array random_array(size_t n, uint64_t seed, double scale = 1.0, double shift = 0.0) {
  nl::Generator g(seed);
  Array a(n);
  for (size_t i = 0; i < n; ++i) a[i] = g.normal_at(i) * scale + shift;
  return a;
}

// The inputs of a normalizer check: x of `size` values ~ N(x_shift, x_scale^2), gamma ~ N(1, 1)
// and beta ~ N(0, 1) of `channels` values, dy ~ N(0, 1) like x; seeds seed .. seed + 3.
struct NormData {
  Array x, gamma, beta, dy;
};
inline NormData norm_data(size_t size, int64_t channels, uint64_t seed, double x_scale,
                          double x_shift) {
  return {random_array(size, seed, x_scale, x_shift),
          random_array(size_t(channels), seed + 1, 1.0, 1.0),
          random_array(size_t(channels), seed + 2), random_array(size, seed + 3)};
}

inline nl::Tensor tensor(const Array& values, const nl::Shape& shape, bool requires_grad = false) {
  nl::Tensor t = nl::Tensor::from_vector(values, shape, nl::DType::f64);
  if (requires_grad) t.requires_grad_(true);
  return t;
}

// The parameter of `m` called `name` ("weight", "bias", ...).
inline nl::Tensor parameter(const nl::Module& m, const std::string& name) {
  for (auto& [n, p] : m.named_parameters())
    if (n == name) return p;
  throw std::runtime_error("the layer has no parameter " + name);
}

// A normlab normalizer by spec ("bn", "gn:groups=2", ...) in float64 and training mode, with
// the given affine parameters.
inline nl::ModulePtr norm_layer(const std::string& spec, int64_t channels, const Array& gamma,
                                const Array& beta) {
  nl::ModulePtr layer = nl::make_norm(spec, channels).module;
  layer->to(nl::DType::f64);
  layer->train();
  nl::NoGradGuard no_grad;
  parameter(*layer, "weight").copy_(tensor(gamma, {channels}));
  parameter(*layer, "bias").copy_(tensor(beta, {channels}));
  return layer;
}

// A student's forward and backward as one normlab op, checked by normlab's float64 gradcheck:
// the backward must equal the central differences of the student's own forward along a random
// projection of the output.
struct Input {
  std::string name;
  Array values;
  nl::Shape shape;
};
using Forward = std::function<Array(const std::vector<Array>&)>;
using Backward = std::function<std::vector<Array>(const std::vector<Array>&, const Array& dy)>;

inline std::string gradcheck_pair(const Forward& forward, const Backward& backward,
                                  const std::vector<Input>& inputs, const nl::Shape& out_shape,
                                  double rtol = 1e-5) {
  std::vector<nl::Tensor> leaves;
  nl::GradcheckOptions options;
  options.rtol = rtol;
  for (const Input& in : inputs) {
    leaves.push_back(tensor(in.values, in.shape, true));
    options.input_names.push_back(in.name);
  }
  const auto op = [&](const std::vector<nl::Tensor>& xs) {
    std::vector<Array> values;
    for (const nl::Tensor& x : xs) values.push_back(x.to_vector());
    const Array y = forward(values);
    nl::check(int64_t(y.size()) == nl::numel_of(out_shape), "forward", "returned ", y.size(),
              " values, expected ", nl::numel_of(out_shape));
    nl::Tensor out;
    {
      nl::NoGradGuard no_grad;
      out = tensor(y, out_shape);
    }
    return nl::record(out, "student", xs, [values, backward, xs](const nl::Tensor& dy) {
      const std::vector<Array> grads = backward(values, dy.to_vector());
      nl::check(grads.size() == xs.size(), "backward", "returned ", grads.size(),
                " gradients, expected ", xs.size());
      std::vector<nl::Tensor> out_grads;
      for (size_t i = 0; i < xs.size(); ++i) {
        nl::check(int64_t(grads[i].size()) == xs[i].numel(), "backward", "gradient ", i, " has ",
                  grads[i].size(), " values, expected ", xs[i].numel());
        out_grads.push_back(tensor(grads[i], xs[i].shape()));
      }
      return out_grads;
    });
  };
  const nl::GradcheckResult r = nl::gradcheck(op, leaves, options);
  if (r.ok) return "";
  return "the backward disagrees with central differences of the forward: " + r.message +
         " (analytic = your backward, numeric = central differences)";
}

}  // namespace course
