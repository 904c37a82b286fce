// The outermost frame of every app: whatever its own error handling lets escape (an error while
// printing an error, a failure before its try block) is printed naming the app, and the process
// exits 2, the code of a refused input or setting (docs/reliability.md), instead of ending in
// std::terminate (an abort, a core dump).
//   int main(int argc, char** argv) {
//     return nl::apps::guarded_main("train", [&] { return run(argc, argv); });
//   }
#pragma once
#include <cstdio>
#include <exception>

namespace nl::apps {

template <typename Body>
int guarded_main(const char* app, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", app, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: an unknown error\n", app);
  }
  return 2;
}

}  // namespace nl::apps
