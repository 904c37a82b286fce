#include "core/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

namespace nl {
namespace {

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw Error(path + ": write failed (" + std::strerror(errno) + ")");
    }
    p += w, n -= size_t(w);
  }
}

}  // namespace

void save_safetensors(const std::string& path, const SafetensorsFile& file) {
  nlohmann::ordered_json header;
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  // What each tensor writes, in header order: its own bytes, or int64 values for counters.
  struct Payload {
    Tensor data;
    std::vector<int64_t> integers;
    bool as_int64 = false;
  };
  std::vector<Payload> payloads;
  for (const auto& [name, t] : file.tensors) {
    Payload p{t.detach().contiguous(), {}, file.int64_tensors.count(name) > 0};
    if (p.as_int64)
      for (double v : p.data.to_vector()) {
        check(v == std::floor(v) && std::abs(v) < 9.0e15, "save_safetensors", "'", name,
              "' is stored as int64 but holds ", v);
        p.integers.push_back(int64_t(v));
      }
    const DType dt = p.data.dtype();
    const uint64_t bytes = uint64_t(p.data.numel()) * (p.as_int64 ? 8 : dtype_size(dt));
    header[name] = {{"dtype", p.as_int64         ? "I64"
                              : dt == DType::f32 ? "F32"
                                                 : "F64"},
                    {"shape", p.data.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    payloads.push_back(std::move(p));
  }
  std::string text = header.dump();
  while (text.size() % 8) text += ' ';  // keeps the data 8-byte aligned, as the spec suggests
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(tmp + ": cannot create (" + std::strerror(errno) + ")");
  try {
    const uint64_t n = text.size();  // little-endian on every platform normlab targets
    write_all(fd, &n, 8, tmp);
    write_all(fd, text.data(), text.size(), tmp);
    for (const Payload& p : payloads) {
      const Tensor& t = p.data;
      if (p.as_int64)
        write_all(fd, p.integers.data(), p.integers.size() * sizeof(int64_t), tmp);
      else
        write_all(
            fd,
            static_cast<const char*>(t.impl().storage->data) + t.offset() * dtype_size(t.dtype()),
            size_t(t.numel()) * dtype_size(t.dtype()), tmp);
    }
    if (::fsync(fd) != 0) throw Error(tmp + ": fsync failed (" + std::strerror(errno) + ")");
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": rename from " + tmp + " failed (" + std::strerror(errno) + ")");
  const auto dir = std::filesystem::path(path).parent_path();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) ::fsync(dfd), ::close(dfd);
}

SafetensorsFile load_safetensors(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(path + ": cannot open (no such file)");
  if (!std::filesystem::is_regular_file(status))
    throw Error(path + ": not a regular file (a directory, pipe or device), not a checkpoint");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  const auto size = f.tellg();
  if (size < 0) throw Error(path + ": cannot read its size");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (!bytes.empty() && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(path + ": read failed");
  return parse_safetensors(path, bytes.data(), bytes.size());
}

SafetensorsFile parse_safetensors(const std::string& name, const uint8_t* bytes, size_t size) {
  uint64_t header_len = 0;
  if (size < 8) throw Error(name + ": too short to be a safetensors file");
  std::memcpy(&header_len, bytes, 8);
  if (header_len > size - 8)
    throw Error(name + ": header length " + std::to_string(header_len) + " exceeds the file size");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const std::exception& e) {
    throw Error(name + ": bad JSON header (" + e.what() + ")");
  }
  if (!header.is_object()) throw Error(name + ": the JSON header is not an object");
  const uint64_t data_start = 8 + header_len, data_size = size - data_start;
  SafetensorsFile out;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (!entry.is_object()) throw Error(name + ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw Error(name + ": __metadata__ entry '" + k + "' is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      if (!entry.is_object()) throw Error("entry is not an object");
      const std::string dt = entry.at("dtype").get<std::string>();
      if (dt != "F32" && dt != "F64" && dt != "I64") throw Error("unsupported dtype " + dt);
      const bool int64 = dt == "I64";
      const DType dtype = dt == "F32" ? DType::f32 : DType::f64;  // I64 is read into float64
      const auto dims = entry.at("shape").get<std::vector<int64_t>>();
      // Dimensions are checked one by one so that their product cannot overflow.
      uint64_t count = 1;
      for (int64_t d : dims) {
        if (d < 0) throw Error("negative dimension in the shape");
        if (d != 0 && count > data_size / uint64_t(d)) throw Error("shape larger than the file");
        count *= uint64_t(d);
      }
      const Shape shape(dims.begin(), dims.end());
      const auto offs = entry.at("data_offsets").get<std::vector<uint64_t>>();
      if (offs.size() != 2 || offs[0] > offs[1] || offs[1] > data_size)
        throw Error("data_offsets outside the file");
      if (offs[1] - offs[0] != count * (int64 ? 8 : dtype_size(dtype)))
        throw Error("data_offsets do not match shape " + shape_str(shape));
      Tensor t = Tensor::empty(shape, dtype);
      if (int64) {
        double* dst = t.data<double>();
        for (uint64_t i = 0; i < count; ++i) {
          int64_t v = 0;
          std::memcpy(&v, bytes + data_start + offs[0] + 8 * i, 8);
          dst[i] = double(v);
        }
        out.int64_tensors.insert(key);
      } else if (count > 0) {
        std::memcpy(t.impl().storage->data, bytes + data_start + offs[0], offs[1] - offs[0]);
      }
      out.tensors[key] = t;
    } catch (const std::exception& e) {
      throw Error(name + ": tensor '" + key + "': " + e.what());
    }
  }
  return out;
}

}  // namespace nl
