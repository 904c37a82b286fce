// Grades exercise 1.1 (exercises/01-tensors/strided_views.hpp).
#include "grader/grader.hpp"
#include "strided_views.hpp"

using course::View;

namespace {

std::string str(const std::vector<int64_t>& v) {
  return nl::shape_str(v);
}

View view_of(const nl::Tensor& t) {
  return {t.shape(), t.strides(), t.offset()};
}

std::string same_view(const std::string& what, const View& got, const nl::Tensor& want) {
  if (got.shape != want.shape() || got.strides != want.strides() || got.offset != want.offset())
    return what + ": yours has shape " + str(got.shape) + ", strides " + str(got.strides) +
           ", offset " + std::to_string(got.offset) + "; normlab's has " + str(want.shape()) +
           ", " + str(want.strides()) + ", " + std::to_string(want.offset());
  return "";
}

// Every element of `v` read through element_offset from the base's storage equals normlab's.
std::string reads_like(const View& v, const nl::Tensor& want, const std::vector<double>& base) {
  std::vector<int64_t> index(v.shape.size(), 0);
  for (int64_t flat = 0; flat < want.numel(); ++flat) {
    int64_t rest = flat;
    for (size_t k = index.size(); k-- > 0;) index[k] = rest % v.shape[k], rest /= v.shape[k];
    const int64_t at = course::element_offset(v, index);
    if (at < 0 || at >= int64_t(base.size()))
      return "element " + str(index) + " maps to storage[" + std::to_string(at) +
             "], outside the storage of " + std::to_string(base.size()) + " elements";
    if (base[size_t(at)] != want.at(index))
      return "element " + str(index) + " reads storage[" + std::to_string(at) +
             "] = " + std::to_string(base[size_t(at)]) + ", normlab's view reads " +
             std::to_string(want.at(index));
  }
  return "";
}

}  // namespace

int main() {
  course::Grader grader("exercise 1.1, strided views");
  const nl::Tensor base = nl::Tensor::arange(0, 2 * 3 * 4 * 5).view({2, 3, 4, 5});
  const std::vector<double> storage = base.to_vector();

  grader.check("contiguous_strides equals normlab's", [&]() -> std::string {
    for (const nl::Shape& s :
         {nl::Shape{2, 3, 4, 5}, nl::Shape{7}, nl::Shape{1, 4, 1}, nl::Shape{}}) {
      const auto got = course::contiguous_strides(s), want = nl::contiguous_strides(s);
      if (got != want)
        return "for shape " + str(s) + " you give " + str(got) + ", expected " + str(want);
    }
    return "";
  });

  grader.check("permute equals normlab's Tensor::permute", [&]() -> std::string {
    for (const std::vector<int64_t>& dims :
         {std::vector<int64_t>{3, 1, 0, 2}, {0, 2, 3, 1}, {1, 0, 2, 3}}) {
      const View got = course::permute(view_of(base), dims);
      std::string p = same_view("permute(x, " + str(dims) + ")", got, base.permute(dims));
      if (p.empty()) p = reads_like(got, base.permute(dims), storage);
      if (!p.empty()) return p;
    }
    return "";
  });

  grader.check("narrow equals normlab's Tensor::narrow", [&]() -> std::string {
    const nl::Tensor t = base.permute({0, 2, 1, 3});
    for (const auto& [dim, start, length] : {std::tuple{1, 1, 2}, {3, 2, 3}, {0, 1, 1}}) {
      const View got = course::narrow(view_of(t), dim, start, length);
      const nl::Tensor want = t.narrow(dim, start, length);
      std::string p = same_view("narrow(x, " + std::to_string(dim) + ", " + std::to_string(start) +
                                    ", " + std::to_string(length) + ") of a permuted x",
                                got, want);
      if (p.empty()) p = reads_like(got, want, storage);
      if (!p.empty()) return p;
    }
    return "";
  });

  grader.check("is_contiguous agrees with normlab", [&]() -> std::string {
    const std::pair<std::string, nl::Tensor> cases[] = {
        {"x", base},
        {"x.permute(1, 0, 2, 3)", base.permute({1, 0, 2, 3})},
        {"x.narrow(0, 1, 1)", base.narrow(0, 1, 1)},
        {"x.narrow(3, 0, 2)", base.narrow(3, 0, 2)},
        {"x.narrow(0, 0, 1).permute(1, 0, 2, 3)", base.narrow(0, 0, 1).permute({1, 0, 2, 3})},
        {"x.unsqueeze(2)", base.unsqueeze(2)}};
    for (const auto& [name, t] : cases) {
      const bool got = course::is_contiguous(view_of(t)), want = t.is_contiguous();
      if (got != want)
        return name + " (shape " + str(t.shape()) + ", strides " + str(t.strides()) + ") is " +
               (want ? "" : "not ") + "contiguous; you say it is" + (got ? "" : " not");
    }
    return "";
  });
  return grader.result();
}
