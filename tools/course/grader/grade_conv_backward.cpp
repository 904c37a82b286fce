// Grades exercise 3.1 (exercises/03-convolution/conv_backward.hpp).
#include "conv_backward.hpp"
#include "grader/grader.hpp"

using course::Array;
using course::ConvShape;

namespace {

// Overlapping (3x3, stride 1, padded), strided with a kernel wider than the stride, dilated.
const ConvShape kShapes[] = {
    {.n = 2, .c = 3, .h = 5, .w = 4, .k = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1},
    {.n = 3, .c = 2, .h = 7, .w = 6, .k = 3, .kh = 3, .kw = 2, .stride = 2, .pad = 1},
    {.n = 1,
     .c = 2,
     .h = 6,
     .w = 6,
     .k = 2,
     .kh = 2,
     .kw = 3,
     .stride = 1,
     .pad = 2,
     .dilation = 2},
};

std::string describe(const ConvShape& s) {
  std::ostringstream os;
  os << "x (" << s.n << ", " << s.c << ", " << s.h << ", " << s.w << "), w (" << s.k << ", " << s.c
     << ", " << s.kh << ", " << s.kw << "), stride " << s.stride << ", padding " << s.pad
     << ", dilation " << s.dilation;
  return os.str();
}

double dot(const Array& a, const Array& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

int main() {
  course::Grader grader("exercise 3.1, convolution backward");

  grader.check("col2im is the adjoint of im2col", [&]() -> std::string {
    for (const ConvShape& s : kShapes) {
      const Array x = course::random_array(s.c * s.h * s.w, 1);
      const Array c = course::random_array(s.col_rows() * s.positions(), 2);
      const Array back = course::col2im(s, c);
      if (back.size() != x.size())
        return "col2im returned " + std::to_string(back.size()) +
               " values, expected C*H*W = " + std::to_string(x.size()) + " for " + describe(s);
      const double lhs = dot(course::im2col(s, x.data()), c), rhs = dot(x, back);
      if (std::abs(lhs - rhs) > 1e-10 * (1 + std::abs(lhs))) {
        std::ostringstream os;
        os << "<im2col(x), c> = " << lhs << " but <x, col2im(c)> = " << rhs << " for "
           << describe(s) << ": some column entry is not added onto the pixel it came from";
        return os.str();
      }
    }
    return "";
  });

  grader.check("dx, dw and db equal normlab's Conv2d gradients", [&]() -> std::string {
    for (const ConvShape& s : kShapes) {
      const nl::Shape xs{s.n, s.c, s.h, s.w}, ws{s.k, s.c, s.kh, s.kw};
      const Array x = course::random_array(nl::numel_of(xs), 3),
                  w = course::random_array(nl::numel_of(ws), 4);
      const Array b = course::random_array(s.k, 5);
      const Array dy = course::random_array(s.n * s.k * s.positions(), 6);
      nl::Tensor tx = course::tensor(x, xs, true), tw = course::tensor(w, ws, true);
      nl::Tensor tb = course::tensor(b, {s.k}, true);
      nl::Conv2dOptions o;
      o.stride = {s.stride, s.stride};
      o.padding = {s.pad, s.pad};
      o.dilation = {s.dilation, s.dilation};
      const nl::Tensor y = nl::conv2d(tx, tw, tb, o);
      nl::sum(y * course::tensor(dy, y.shape())).backward();
      const course::ConvGrads g = course::conv2d_backward(s, x, w, dy);
      for (const auto& [name, got, expected, shape] :
           {std::tuple{"dx", g.dx, tx.grad().to_vector(), xs},
            std::tuple{"dw", g.dw, tw.grad().to_vector(), ws},
            std::tuple{"db", g.db, tb.grad().to_vector(), nl::Shape{s.k}}}) {
        const std::string problem = course::compare(name, got, expected, shape, 1e-10);
        if (!problem.empty()) return problem + ", for " + describe(s);
      }
    }
    return "";
  });

  grader.check("backward matches central differences", [&] {
    const ConvShape& s = kShapes[1];
    const Array x = course::random_array(s.n * s.c * s.h * s.w, 7);
    const Array w = course::random_array(s.k * s.col_rows(), 8), b = course::random_array(s.k, 9);
    return course::gradcheck_pair(
        [&](const std::vector<Array>& in) {
          return course::conv2d_forward(s, in[0], in[1], in[2]);
        },
        [&](const std::vector<Array>& in, const Array& dy) {
          const course::ConvGrads g = course::conv2d_backward(s, in[0], in[1], dy);
          return std::vector<Array>{g.dx, g.dw, g.db};
        },
        {{"x", x, {s.n, s.c, s.h, s.w}}, {"w", w, {s.k, s.c, s.kh, s.kw}}, {"b", b, {s.k}}},
        {s.n, s.k, s.out_h(), s.out_w()});
  });
  return grader.result();
}
