// A structural check of JPEG files made before stb_image decodes them.
//
// Debian's stb_image (2.27) lacks the bounds checks that stb 2.28 added after fuzzing: a
// Huffman table (DHT) whose 16 code counts add up to more than 256 overflows the decoder's
// symbol arrays, and the corrupted tables later make stbi__jpeg_huff_decode read far out of
// bounds (normlab's fuzzer found it through decode_block_prog_ac). A JPEG may hold at most 256
// symbols per table (ITU T.81, B.2.4.2), so such a file is corrupt, and refusing it here keeps
// the decoder's tables within their arrays. Likewise a scan that uses a Huffman table the file
// never defines made stb decode with uninitialised tables (a use-after-free read found by the
// fuzzer); the check refuses it, and image_folder.cpp zeroes stb's allocations besides.
//
// The check walks the marker segments as the decoder does (APPn and COM segments skipped by
// their length, entropy-coded data up to the next marker) and validates every DHT segment; it
// also validates anything that looks like a DHT marker (FF C4) outside APPn/COM payloads, so a
// table hidden where a less careful parser would still find it is refused too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nl::data {

// True when `bytes` start with the JPEG start-of-image marker (FF D8).
bool looks_like_jpeg(const uint8_t* bytes, size_t size);

// Throws nl::Error naming `name` and the byte offset of the first invalid Huffman table or of
// a scan that uses an undefined one.
void check_jpeg_huffman_tables(const std::string& name, const uint8_t* bytes, size_t size);

}  // namespace nl::data
