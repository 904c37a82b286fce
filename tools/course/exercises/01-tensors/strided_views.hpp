// Exercise 1.1: a tensor is storage + shape + strides + offset; a view changes only the last
// three (core/tensor.hpp, docs/tensor-and-autograd.md).
//
// Element (i_0, ..., i_{d-1}) of a view lives at storage[offset + sum_k i_k strides[k]].
// Write, in strided_views.cpp, the four rules normlab's views follow (strides in elements):
//   contiguous_strides(shape)      row-major: the last dimension has stride 1, and each earlier
//                                  one the product of the sizes after it
//   permute(v, dims)               dimension k of the result is dimension dims[k] of v
//   narrow(v, dim, start, length)  elements start .. start + length - 1 along dim
//   is_contiguous(v)               whether v's elements are exactly storage[offset ...] in
//                                  row-major order; a dimension of size 1 may have any stride
// and element_offset(v, index), the storage position of one element.
//
// Graded (ctest -R strided_views): each rule against normlab's own Tensor views (strides(),
// offset(), is_contiguous(), and the value each element reads) on chains of views.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace course {

struct View {
  std::vector<int64_t> shape, strides;
  int64_t offset = 0;
};

std::vector<int64_t> contiguous_strides(const std::vector<int64_t>& shape);
View permute(const View& v, const std::vector<int64_t>& dims);
View narrow(const View& v, int64_t dim, int64_t start, int64_t length);
bool is_contiguous(const View& v);
int64_t element_offset(const View& v, const std::vector<int64_t>& index);

}  // namespace course
