// Per-thread scratch memory reused across calls, so hot loops never allocate: each TBB worker
// keeps one grow-only buffer per (element type, role). The role is part of the buffer's type,
// so two stages that may run on one thread at once (a GEMM's operands held while an inner
// parallel loop transforms tiles) can never hand out the same memory. The rule that remains:
// a role belongs to one stage, and no code takes a role while an enclosing frame of the same
// thread holds it.
#pragma once
#include <cstdint>
#include <vector>

namespace nl {

enum class Scratch {
  gemm_operand,       // the lowered input of a convolution's GEMM: im2col columns, Winograd V
  gemm_result,        // its output block: the GEMM result, Winograd M (or Z in backward)
  gemm_operand_grad,  // im2col's column gradient, before col2im
  tile_transform,     // one plane's Winograd input transform
  tile_rows,          // the rows of one plane's Winograd output transform
};

template <typename T, Scratch role>
T* thread_scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(count);
  return buffer.data();
}

}  // namespace nl
