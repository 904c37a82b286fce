#include "data/jpeg_guard.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace nl::data {
namespace {

constexpr uint8_t kDHT = 0xC4, kSOS = 0xDA, kEOI = 0xD9, kCOM = 0xFE;
bool is_app(uint8_t m) {
  return m >= 0xE0 && m <= 0xEF;
}
bool is_standalone(uint8_t m) {
  return (m >= 0xD0 && m <= 0xD8) || m == 0x01;
}  // RSTn, SOI, TEM

uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}

// Validates the DHT segment whose marker starts at `at`: each table is a class/id byte, 16
// counts and sum(counts) symbol bytes, with sum(counts) <= 256, all inside the segment. Marks
// the tables it defines in `defined` [class][id] when given.
void check_dht(const std::string& name, const uint8_t* b, size_t size, size_t at,
               bool (*defined)[4] = nullptr) {
  const auto fail = [&](const std::string& why) {
    throw Error(name + ": corrupt JPEG: the Huffman table segment at byte " + std::to_string(at) +
                " " + why);
  };
  if (at + 4 > size) fail("is truncated");
  const size_t length = be16(b + at + 2), end = at + 2 + length;
  if (length < 2 || end > size) fail("has a length past the end of the file");
  size_t p = at + 4;
  while (p < end) {
    if (p + 17 > end) fail("is truncated inside a table header");
    size_t symbols = 0;
    for (int i = 1; i <= 16; ++i) symbols += b[p + i];
    if (symbols > 256)
      fail("declares " + std::to_string(symbols) + " codes in one table (at most 256)");
    const int table_class = b[p] >> 4, table_id = b[p] & 15;
    if (table_class > 1 || table_id > 3)
      fail("names table class " + std::to_string(table_class) + ", id " + std::to_string(table_id) +
           " (at most 1, 3)");
    if (defined) defined[table_class][table_id] = true;
    p += 17 + symbols;
    if (p > end) fail("is shorter than its tables");
  }
}

// A scan may only use Huffman tables defined before it (T.81, B.2.3): stb 2.27 would decode
// with whatever its never-written tables held. A DC scan (Ss = 0) without refinement reads
// each component's DC table, a scan with AC coefficients (Se > 0) its AC table.
void check_scan_tables(const std::string& name, const uint8_t* b, size_t size, size_t at,
                       const bool (*defined)[4]) {
  if (at + 5 > size) return;  // truncated: the decoder reports it
  const size_t components = b[at + 4];
  const size_t tail = at + 5 + 2 * components;  // Ss, Se, Ah/Al follow the component list
  if (tail + 3 > size) return;
  const int ss = b[tail], se = b[tail + 1], ah = b[tail + 2] >> 4;
  for (size_t c = 0; c < components; ++c) {
    const int dc = b[at + 6 + 2 * c] >> 4, ac = b[at + 6 + 2 * c] & 15;
    const bool uses_dc = ss == 0 && ah == 0, uses_ac = se > 0;
    if ((uses_dc && (dc > 3 || !defined[0][dc])) || (uses_ac && (ac > 3 || !defined[1][ac])))
      throw Error(name + ": corrupt JPEG: the scan at byte " + std::to_string(at) +
                  " uses Huffman table " +
                  (uses_dc && (dc > 3 || !defined[0][dc]) ? "DC " + std::to_string(dc)
                                                          : "AC " + std::to_string(ac)) +
                  ", which the file never defines");
  }
}

}  // namespace

bool looks_like_jpeg(const uint8_t* bytes, size_t size) {
  return size >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8;
}

void check_jpeg_huffman_tables(const std::string& name, const uint8_t* b, size_t size) {
  std::vector<std::pair<size_t, size_t>> opaque;  // [begin, end) of APPn/COM payloads
  bool defined[2][4] = {};                        // Huffman tables seen so far: [DC/AC][id]
  size_t p = 2;
  while (p + 1 < size) {
    if (b[p] != 0xFF) {  // not at a marker: entropy-coded data or junk; find the next marker
      ++p;
      continue;
    }
    const uint8_t m = b[p + 1];
    if (m == 0xFF) {  // fill byte
      ++p;
      continue;
    }
    if (m == 0x00 || is_standalone(m)) {  // stuffed zero or restart marker inside a scan
      p += 2;
      continue;
    }
    if (m == kEOI) break;
    if (p + 4 > size) break;
    const size_t length = be16(b + p + 2);
    if (m == kDHT) check_dht(name, b, size, p, defined);
    if (m == kSOS) check_scan_tables(name, b, size, p, defined);
    if (is_app(m) || m == kCOM) opaque.emplace_back(p + 4, std::min(size, p + 2 + length));
    p += 2 + std::max<size_t>(length, 2);  // after an SOS header, its entropy-coded data
  }
  // Anything else that reads as a DHT marker must be a valid one too.
  size_t next_opaque = 0;
  for (size_t i = 0; i + 1 < size; ++i) {
    while (next_opaque < opaque.size() && opaque[next_opaque].second <= i) ++next_opaque;
    if (next_opaque < opaque.size() && i >= opaque[next_opaque].first) {
      i = opaque[next_opaque].second - 1;
      continue;
    }
    if (b[i] == 0xFF && b[i + 1] == kDHT) check_dht(name, b, size, i);
  }
}

}  // namespace nl::data
