// libFuzzer harness for the image loader's decoder (stb_image behind decode_image_rgb): any
// bytes must decode or throw nl::Error naming the file.
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "data/image_folder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    int w = 0, h = 0;
    auto pixels = nl::data::decode_image_rgb("fuzz.img", data, size, w, h);
    if (pixels.size() != size_t(3) * w * h) __builtin_trap();
  } catch (const nl::Error&) {
  }
  return 0;
}
