// Grades exercise 2.1 (exercises/02-autograd/softplus.hpp).
#include "grader/grader.hpp"
#include "softplus.hpp"

using course::Array;

namespace {

double softplus_exact(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
double sigmoid_exact(double x) {
  return 1 / (1 + std::exp(-x));
}

}  // namespace

int main() {
  course::Grader grader("exercise 2.1, softplus");
  const nl::Shape shape{3, 7};
  const Array xs = course::random_array(21, 11, 2.5);

  grader.check("values match log(1 + exp(x))", [&] {
    const Array y = course::softplus(course::tensor(xs, shape)).to_vector();
    Array expected;
    for (double x : xs) expected.push_back(softplus_exact(x));
    return course::compare("softplus(x)", y, expected, shape, 1e-12);
  });

  const Array large = {-800, -50, -1e-3, 0, 1e-3, 50, 800};
  grader.check("finite and right for large |x|", [&] {
    const Array y = course::softplus(course::tensor(large, {7})).to_vector();
    Array expected;
    for (double x : large) expected.push_back(softplus_exact(x));
    return course::compare("softplus(x) at x = {-800, -50, -1e-3, 0, 1e-3, 50, 800}: value", y,
                           expected, {7}, 1e-12);
  });

  grader.check("the op is recorded for autograd", [&]() -> std::string {
    const nl::Tensor x = course::tensor(xs, shape, true);
    const nl::Tensor y = course::softplus(x);
    if (!y.requires_grad())
      return "softplus(x) of an x with requires_grad does not require grad: call nl::record";
    return "";
  });

  grader.check("backward matches central differences", [&]() -> std::string {
    nl::Tensor x = course::tensor(xs, shape, true);
    nl::GradcheckOptions options;
    options.input_names = {"x"};
    const nl::GradcheckResult r = nl::gradcheck(
        [](const std::vector<nl::Tensor>& in) { return course::softplus(in[0]); }, {x}, options);
    return r.ok ? "" : "gradcheck: " + r.message + " (analytic = your backward)";
  });

  grader.check("the gradient is finite and right for large |x|", [&] {
    nl::Tensor x = course::tensor(large, {7}, true);
    nl::sum(course::softplus(x)).backward();
    Array expected;
    for (double v : large) expected.push_back(sigmoid_exact(v));
    return course::compare("d softplus/dx at x = {-800, -50, -1e-3, 0, 1e-3, 50, 800}: value",
                           x.grad().to_vector(), expected, {7}, 1e-12);
  });
  return grader.result();
}
