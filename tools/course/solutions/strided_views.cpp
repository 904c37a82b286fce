#include "strided_views.hpp"

namespace course {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size());
  int64_t step = 1;
  for (std::size_t k = shape.size(); k-- > 0;) {
    strides[k] = step;
    step *= shape[k];
  }
  return strides;
}

View permute(const View& v, const std::vector<int64_t>& dims) {
  View out{{}, {}, v.offset};
  for (int64_t d : dims) {
    out.shape.push_back(v.shape[std::size_t(d)]);
    out.strides.push_back(v.strides[std::size_t(d)]);
  }
  return out;
}

View narrow(const View& v, int64_t dim, int64_t start, int64_t length) {
  View out = v;
  out.shape[std::size_t(dim)] = length;
  out.offset += start * v.strides[std::size_t(dim)];  // the view starts `start` steps along dim
  return out;
}

bool is_contiguous(const View& v) {
  int64_t expected = 1;
  for (std::size_t k = v.shape.size(); k-- > 0;) {
    if (v.shape[k] != 1 && v.strides[k] != expected) return false;
    expected *= v.shape[k];
  }
  return true;
}

int64_t element_offset(const View& v, const std::vector<int64_t>& index) {
  int64_t at = v.offset;
  for (std::size_t k = 0; k < index.size(); ++k) at += index[k] * v.strides[k];
  return at;
}

}  // namespace course
