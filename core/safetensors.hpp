// The safetensors file format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
// {string: string}}, then the raw little-endian tensor bytes. PyTorch and NumPy users read it
// with `safetensors.torch.load_file` / `safetensors.numpy.load_file`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "core/tensor.hpp"

namespace nl {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
  // Tensors stored as I64 (counters such as num_batches_tracked, as PyTorch writes them): saved
  // from whole-number values, loaded as float64 tensors (exact below 2^53) and listed here.
  std::set<std::string> int64_tensors;
};

// Writes atomically: a temporary file next to `path`, fsync, rename over `path`, fsync of the
// folder. A crash leaves either the old file or the new one, never half of one.
void save_safetensors(const std::string& path, const SafetensorsFile& file);
// Throws naming the file and what is wrong (truncated, bad header, unknown dtype, ...).
SafetensorsFile load_safetensors(const std::string& path);
// The same from bytes in memory (`name` is used in messages); exposed for the fuzzer.
SafetensorsFile parse_safetensors(const std::string& name, const uint8_t* bytes, size_t size);

}  // namespace nl
