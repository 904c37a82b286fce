// The official CIFAR binary releases (https://www.cs.toronto.edu/~kriz/cifar.html).
//   CIFAR-10:  data_batch_1..5.bin (train), test_batch.bin; record = label byte + 3072 bytes
//              (1024 R, 1024 G, 1024 B, rows of 32), batches.meta.txt holds the class names.
//   CIFAR-100: train.bin, test.bin; record = coarse label byte + fine label byte + 3072 bytes.
// A truncated file, a file of the wrong size or a label out of range throws, naming the file
// and the byte offset.
#pragma once
#include <string>

#include "data/image_set.hpp"

namespace nl::data {

class Cifar10Binary : public ImageSet {
 public:
  Cifar10Binary() = default;  // empty; fill with append_records
  Cifar10Binary(const std::string& dir, bool train);
  // Parses one batch file's bytes (exposed for the fuzzer and tests).
  void append_records(const std::string& name, const uint8_t* bytes, size_t size);
};

class Cifar100Binary : public ImageSet {
 public:
  Cifar100Binary() = default;
  // fine = true: 100 fine labels; false: 20 coarse superclasses.
  Cifar100Binary(const std::string& dir, bool train, bool fine = true);
  void append_records(const std::string& name, const uint8_t* bytes, size_t size, bool fine);
};

// True if `dir` looks like the CIFAR-10 binary release (has data_batch_1.bin).
bool is_cifar10_binary_dir(const std::string& dir);

}  // namespace nl::data
