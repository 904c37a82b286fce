// position_norm (layers/norm/position_norm.hpp) as the composite it replaces: transpose the map
// to channels-last rows (N*L, C), normalize each row with plane_norm's LayerNorm layout (G = 1,
// L = 1), transpose back. Every step is an op with its own backward, so the gradient comes from
// the core's formula, not the kernel's. Slow on purpose; the tests' oracle for the kernel.
#pragma once
#include "layers/norm/plane_norm.hpp"

namespace nl::reference {

Tensor position_norm_composite(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                               const char* name, NormMath math = {});

}  // namespace nl::reference
