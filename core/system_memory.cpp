#include "core/system_memory.hpp"

#include <cstdio>
#include <fstream>

namespace nl {

double available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  for (std::string key; f >> key;) {
    double kib = 0;
    f >> kib;
    if (key == "MemAvailable:") return kib * 1024;
    f.ignore(256, '\n');
  }
  return 0;
}

std::string format_bytes(double bytes) {
  char buf[32];
  if (bytes >= double(1 << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / double(1 << 30));
  else
    std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / double(1 << 20));
  return buf;
}

}  // namespace nl
