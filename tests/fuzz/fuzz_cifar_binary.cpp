// libFuzzer harness for the CIFAR binary parser: any bytes must give records or an nl::Error,
// never a crash, a leak or an out-of-bounds read (run under AddressSanitizer).
#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "data/cifar_binary.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    nl::data::Cifar10Binary c10;
    c10.append_records("fuzz.bin", data, size);
  } catch (const nl::Error&) {
  }
  try {
    nl::data::Cifar100Binary c100;
    c100.append_records("fuzz.bin", data, size, size % 2 == 0);
  } catch (const nl::Error&) {
  }
  return 0;
}
