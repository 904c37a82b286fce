#include "data/file_util.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/error.hpp"

namespace nl::data {

std::vector<uint8_t> read_file(const std::string& path) {
  // Opening a FIFO would block and a directory "opens" with a bogus size: refuse both first.
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(path + ": cannot open (no such file)");
  if (!std::filesystem::is_regular_file(status))
    throw Error(
        path + ": not a regular file (" +
        (std::filesystem::is_directory(status) ? "a directory" : "a pipe, socket or device") + ")");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  const std::streamsize size = f.tellg();
  f.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size))
    throw Error(path + ": read failed after " + std::to_string(f.gcount()) + " bytes");
  return bytes;
}

}  // namespace nl::data
