#include "core/random.hpp"

#include <cmath>
#include <numbers>

namespace nl {

double Generator::normal_at(uint64_t c) const {
  // Two independent uniforms from one counter: the second uses a different stream constant.
  const double u1 = ((bits(c) >> 11) + 1) * 0x1.0p-53;  // (0, 1]: log is finite
  const double u2 = (bits(c ^ 0xD1B54A32D192ED03ull) >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace nl
