#include "data/cifar_binary.hpp"

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "data/file_util.hpp"

namespace nl::data {
namespace {

constexpr size_t kImageBytes = 3 * 32 * 32;
constexpr size_t kRecordsPerBatch = 10000;

const std::vector<std::string> kCifar10Classes = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

// Checks size, then appends every record. `label_bytes` leading bytes per record; the label
// used is byte `label_index`, which must be < classes.
void parse_records(const std::string& name, const uint8_t* bytes, size_t size, size_t label_bytes,
                   size_t label_index, int64_t classes, std::vector<uint8_t>& pixels,
                   std::vector<int64_t>& labels, size_t base_offset = 0) {
  const size_t record = label_bytes + kImageBytes;
  if (size == 0)
    throw Error(name + ": empty file (expected records of " + std::to_string(record) + " bytes)");
  if (size % record != 0)
    throw Error(name + ": size " + std::to_string(size) + " is not a multiple of the " +
                std::to_string(record) +
                "-byte record; truncated or not a CIFAR batch (the last "
                "record starts at byte offset " +
                std::to_string(size - size % record) + ")");
  const size_t count = size / record;
  if (count > kRecordsPerBatch)
    throw Error(name + ": holds " + std::to_string(count) +
                " records; a CIFAR batch holds at most " + std::to_string(kRecordsPerBatch) +
                " (oversized file?)");
  for (size_t r = 0; r < count; ++r) {
    const uint8_t* rec = bytes + r * record;
    const int64_t label = rec[label_index];
    if (label >= classes)
      throw Error(name + ": label " + std::to_string(label) + " at byte offset " +
                  std::to_string(base_offset + r * record + label_index) + " (record " +
                  std::to_string(base_offset / record + r) + ") is outside [0, " +
                  std::to_string(classes) + ")");
    labels.push_back(label);
    pixels.insert(pixels.end(), rec + label_bytes, rec + record);
  }
}

}  // namespace

bool is_cifar10_binary_dir(const std::string& dir) {
  return std::filesystem::exists(std::filesystem::path(dir) / "data_batch_1.bin");
}

void Cifar10Binary::append_records(const std::string& name, const uint8_t* bytes, size_t size) {
  channels_ = 3, height_ = 32, width_ = 32;
  if (class_names_.empty()) class_names_ = kCifar10Classes;
  parse_records(name, bytes, size, 1, 0, 10, pixels_, labels_);
}

Cifar10Binary::Cifar10Binary(const std::string& dir, bool train) {
  if (!std::filesystem::is_directory(dir))
    throw Error(dir +
                ": CIFAR-10 folder not found (download cifar-10-binary.tar.gz from "
                "https://www.cs.toronto.edu/~kriz/cifar.html and extract it)");
  std::vector<std::string> files;
  if (train)
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back("test_batch.bin");
  class_names_ = kCifar10Classes;
  const auto meta = std::filesystem::path(dir) / "batches.meta.txt";
  if (std::filesystem::exists(meta)) {
    std::ifstream f(meta);
    std::vector<std::string> names;
    for (std::string line; std::getline(f, line);)
      if (!line.empty()) names.push_back(line);
    if (names.size() == 10) class_names_ = names;
  }
  for (const auto& f : files) {
    const std::string path = (std::filesystem::path(dir) / f).string();
    const auto bytes = read_file(path);
    append_records(path, bytes.data(), bytes.size());
  }
}

Cifar100Binary::Cifar100Binary(const std::string& dir, bool train, bool fine) {
  const std::string path =
      (std::filesystem::path(dir) / (train ? "train.bin" : "test.bin")).string();
  const auto bytes = read_file(path);
  append_records(path, bytes.data(), bytes.size(), fine);
  class_names_.clear();
  for (int i = 0; i < (fine ? 100 : 20); ++i) class_names_.push_back(std::to_string(i));
}

void Cifar100Binary::append_records(const std::string& name, const uint8_t* bytes, size_t size,
                                    bool fine) {
  channels_ = 3, height_ = 32, width_ = 32;
  // No record limit per file for CIFAR-100 (train.bin has 50000): parse in 10000-record slices.
  const size_t record = 2 + kImageBytes, slice = kRecordsPerBatch * record;
  if (size % record != 0 || size == 0)
    throw Error(name + ": size " + std::to_string(size) + " is not a positive multiple of the " +
                std::to_string(record) + "-byte CIFAR-100 record (truncated?)");
  for (size_t off = 0; off < size; off += slice)
    parse_records(name, bytes + off, std::min(slice, size - off), 2, fine ? 1 : 0, fine ? 100 : 20,
                  pixels_, labels_, off);
}

}  // namespace nl::data
