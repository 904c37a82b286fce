// Shapes, strides and the broadcasting rule.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& shape);
int64_t numel_of(const Shape& shape);
// Row-major (C-order) strides, in elements.
Shape contiguous_strides(const Shape& shape);
// NumPy broadcasting: align from the right, a dimension of 1 stretches. Throws naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int64_t wrap_axis(int64_t axis, int64_t ndim, const char* op);
// Sorted, de-duplicated, wrapped axes; an empty list means "all axes".
std::vector<int64_t> normalize_axes(const std::vector<int64_t>& axes, int64_t ndim, const char* op);

}  // namespace nl
