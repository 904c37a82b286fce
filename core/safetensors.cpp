#include "core/safetensors.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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
  std::vector<Tensor> ordered;
  for (const auto& [name, t] : file.tensors) {
    const Tensor c = t.detach().contiguous();
    const uint64_t bytes = uint64_t(c.numel()) * dtype_size(c.dtype());
    header[name] = {{"dtype", c.dtype() == DType::f32 ? "F32" : "F64"},
                    {"shape", c.shape()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    ordered.push_back(c);
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
    for (const Tensor& t : ordered)
      write_all(
          fd, static_cast<const char*>(t.impl().storage->data) + t.offset() * dtype_size(t.dtype()),
          size_t(t.numel()) * dtype_size(t.dtype()), tmp);
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
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  const uint64_t size = uint64_t(f.tellg());
  f.seekg(0);
  uint64_t header_len = 0;
  if (size < 8 || !f.read(reinterpret_cast<char*>(&header_len), 8))
    throw Error(path + ": too short to be a safetensors file");
  if (header_len > size - 8)
    throw Error(path + ": header length " + std::to_string(header_len) + " exceeds the file size");
  std::string text(header_len, '\0');
  f.read(text.data(), std::streamsize(header_len));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(path + ": bad JSON header (" + e.what() + ")");
  }
  const uint64_t data_start = 8 + header_len, data_size = size - data_start;
  SafetensorsFile out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : entry.items()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    try {
      const std::string dt = entry.at("dtype").get<std::string>();
      if (dt != "F32" && dt != "F64") throw Error("unsupported dtype " + dt);
      const DType dtype = dt == "F32" ? DType::f32 : DType::f64;
      const Shape shape = entry.at("shape").get<Shape>();
      const auto offs = entry.at("data_offsets").get<std::vector<uint64_t>>();
      if (offs.size() != 2 || offs[0] > offs[1] || offs[1] > data_size)
        throw Error("data_offsets outside the file");
      if (offs[1] - offs[0] != uint64_t(numel_of(shape)) * dtype_size(dtype))
        throw Error("data_offsets do not match shape " + shape_str(shape));
      Tensor t = Tensor::empty(shape, dtype);
      f.seekg(std::streamoff(data_start + offs[0]));
      if (!f.read(static_cast<char*>(t.impl().storage->data), std::streamsize(offs[1] - offs[0])))
        throw Error("truncated data");
      out.tensors[name] = t;
    } catch (const std::exception& e) {
      throw Error(path + ": tensor '" + name + "': " + e.what());
    }
  }
  return out;
}

}  // namespace nl
