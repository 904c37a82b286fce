#include "strided_views.hpp"

#include "grader/grader.hpp"

namespace course {

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape) {
  (void)shape;
  todo("contiguous_strides");
}

View permute(const View& v, const std::vector<int64_t>& dims) {
  (void)v, (void)dims;
  todo("permute");
}

View narrow(const View& v, int64_t dim, int64_t start, int64_t length) {
  (void)v, (void)dim, (void)start, (void)length;
  todo("narrow");
}

bool is_contiguous(const View& v) {
  (void)v;
  todo("is_contiguous");
}

int64_t element_offset(const View& v, const std::vector<int64_t>& index) {
  (void)v, (void)index;
  todo("element_offset");
}

}  // namespace course
