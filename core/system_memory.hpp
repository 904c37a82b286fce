// How much memory this machine can still give: big tensor allocations and the training memory
// estimate check against it, so that an impossible request is an error naming its size instead
// of a process the kernel's OOM killer ends without a word.
#pragma once
#include <string>

namespace nl {

// MemAvailable of /proc/meminfo, in bytes (0 when unknown).
double available_memory_bytes();
// "12.3 GiB", "512 MiB".
std::string format_bytes(double bytes);

}  // namespace nl
