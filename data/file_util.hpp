// Reading whole files with errors that name the path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl::data {

std::vector<uint8_t> read_file(const std::string& path);

}  // namespace nl::data
