// Grades exercise 6.1 (exercises/06-weight-side/weight_standardization.hpp).
#include "grader/grader.hpp"
#include "weight_standardization.hpp"

using course::Array;
using course::WeightShape;

namespace {

// Conv weights (K, C, kh, kw): 3x3 kernels, a 1x1 kernel, a single output channel.
const nl::Shape kShapes[] = {{4, 3, 3, 3}, {6, 5, 1, 1}, {1, 2, 3, 3}};

WeightShape shape_of(const nl::Shape& w) {
  return {w[0], w[1] * w[2] * w[3]};
}

// Rows with different offsets and scales, so that per-row standardization matters.
Array make_weight(const nl::Shape& shape, uint64_t seed) {
  Array v = course::random_array(size_t(nl::numel_of(shape)), seed);
  const int64_t fan_in = shape_of(shape).fan_in;
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = v[i] * (1 + double(i / fan_in)) + 0.3 * double(i / fan_in);
  return v;
}

// normlab's ws on v: the standardized weight and, for dw, dL/dv.
std::pair<Array, Array> expected(const nl::Shape& shape, const Array& v, const Array& dw) {
  nl::Tensor tv = course::tensor(v, shape, true);
  nl::WeightNormalizer ws(tv, {.kind = nl::WeightNormKind::ws, .eps = 1e-5});
  ws.to(nl::DType::f64);
  const nl::Tensor w = ws(tv);
  nl::sum(w * course::tensor(dw, shape)).backward();
  return {w.to_vector(), tv.grad().to_vector()};
}

}  // namespace

int main() {
  course::Grader grader("exercise 6.1, Weight Standardization");

  grader.check("forward equals normlab's ws", [&]() -> std::string {
    for (const nl::Shape& shape : kShapes) {
      const Array v = make_weight(shape, 110), dw = course::random_array(v.size(), 111);
      const std::string p = course::compare("w", course::ws_forward(shape_of(shape), v),
                                            expected(shape, v, dw).first, shape, 1e-10);
      if (!p.empty()) return p + ", for a weight " + nl::shape_str(shape);
    }
    return "";
  });

  grader.check("each row of w has mean 0 and variance var / (var + eps)", [&]() -> std::string {
    const nl::Shape shape = kShapes[0];
    const WeightShape s = shape_of(shape);
    const Array v = make_weight(shape, 120), w = course::ws_forward(s, v);
    if (w.size() != v.size()) return "w has the wrong size";
    for (int64_t k = 0; k < s.rows; ++k) {
      double mv = 0, vv = 0, mw = 0, vw = 0;
      for (int64_t f = 0; f < s.fan_in; ++f)
        mv += v[k * s.fan_in + f] / double(s.fan_in), mw += w[k * s.fan_in + f] / double(s.fan_in);
      for (int64_t f = 0; f < s.fan_in; ++f) {
        vv += std::pow(v[k * s.fan_in + f] - mv, 2) / double(s.fan_in);
        vw += std::pow(w[k * s.fan_in + f] - mw, 2) / double(s.fan_in);
      }
      std::ostringstream os;
      if (std::abs(mw) > 1e-12)
        os << "row " << k << " of w has mean " << mw << ", not 0";
      else if (std::abs(vw - vv / (vv + 1e-5)) > 1e-12)
        os << "row " << k << " of w has variance " << vw << ", expected " << vv / (vv + 1e-5);
      if (!os.str().empty()) return os.str();
    }
    return "";
  });

  grader.check("backward equals normlab's ws", [&]() -> std::string {
    for (const nl::Shape& shape : kShapes) {
      const Array v = make_weight(shape, 130), dw = course::random_array(v.size(), 131);
      const std::string p = course::compare("dv", course::ws_backward(shape_of(shape), v, dw),
                                            expected(shape, v, dw).second, shape, 1e-10);
      if (!p.empty()) return p + ", for a weight " + nl::shape_str(shape);
    }
    return "";
  });

  grader.check("backward matches central differences", [&] {
    const nl::Shape shape = kShapes[0];
    const WeightShape s = shape_of(shape);
    return course::gradcheck_pair(
        [&](const std::vector<Array>& in) { return course::ws_forward(s, in[0]); },
        [&](const std::vector<Array>& in, const Array& dw) {
          return std::vector<Array>{course::ws_backward(s, in[0], dw)};
        },
        {{"v", make_weight(shape, 140), shape}}, shape);
  });
  return grader.result();
}
