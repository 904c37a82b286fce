// Every user-facing failure is an nl::Error whose message names the operation and what is wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nl {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// check(cond, "conv2d", "expected 4-D input, got ", shape_str(s)) throws "conv2d: expected ...".
template <typename... Args>
inline void check(bool cond, const char* op, const Args&... parts) {
  if (cond) return;
  std::ostringstream os;
  os << op << ": ";
  (os << ... << parts);
  throw Error(os.str());
}

}  // namespace nl
