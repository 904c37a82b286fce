#include "data/image_folder.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "data/file_util.hpp"
#include "data/jpeg_guard.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG
// Only the formats we promise: a smaller decoder is a smaller attack surface (found by fuzzing:
// a 32-byte file in another format claimed dimensions that made stb allocate gigabytes).
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_MAX_DIMENSIONS 16384
#define STBI_NO_STDIO  // we read files ourselves, to name them in errors
// Zeroed allocations: stb 2.27 reads parts of its JPEG decoder state and coefficient buffers
// before writing them on corrupt input (valgrind and the fuzzer saw it; stb 2.28 added a
// memset for the same reason), which made the outcome depend on what the heap held.
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#include <stb_image.h>

namespace nl::data {
namespace fs = std::filesystem;

constexpr int64_t kMaxPixels = int64_t(1) << 26;  // 64 Mpixel: 192 MiB of RGB

std::vector<uint8_t> decode_image_rgb(const std::string& name, const uint8_t* bytes, size_t size,
                                      int& width, int& height) {
  if (size == 0) throw Error(name + ": empty file, not an image");
  if (size > size_t(1) << 30) throw Error(name + ": file too large to be an image");
  if (looks_like_jpeg(bytes, size)) check_jpeg_huffman_tables(name, bytes, size);
  int channels = 0;
  // Check the header's claimed size before decoding allocates for it.
  if (stbi_info_from_memory(bytes, static_cast<int>(size), &width, &height, &channels) &&
      int64_t(width) * height > kMaxPixels)
    throw Error(name + ": image claims " + std::to_string(width) + "x" + std::to_string(height) +
                " pixels, more than the limit of " + std::to_string(kMaxPixels));
  stbi_uc* rgb =
      stbi_load_from_memory(bytes, static_cast<int>(size), &width, &height, &channels, 3);
  if (!rgb)
    throw Error(name + ": cannot decode image (" + std::string(stbi_failure_reason()) +
                "; corrupt, truncated or not an image)");
  std::vector<uint8_t> planar(size_t(3) * width * height);
  const size_t plane = size_t(width) * height;
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) planar[c * plane + p] = rgb[p * 3 + c];
  stbi_image_free(rgb);
  return planar;
}

ImageFolder::ImageFolder(const std::string& root, ImageFolderOptions opt) {
  if (!fs::is_directory(root)) throw Error(root + ": image folder not found");
  std::vector<std::pair<std::string, int64_t>> files;  // path, class
  for (const auto& entry : fs::directory_iterator(root))
    if (entry.is_directory()) class_names_.push_back(entry.path().filename().string());
  std::sort(class_names_.begin(), class_names_.end());
  if (class_names_.empty())
    throw Error(root + ": no class subfolders (expected root/<class>/<image>)");
  for (size_t c = 0; c < class_names_.size(); ++c) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(fs::path(root) / class_names_[c]))
      if (entry.is_regular_file()) names.push_back(entry.path().string());
    if (names.empty())
      throw Error((fs::path(root) / class_names_[c]).string() + ": empty class folder");
    std::sort(names.begin(), names.end());
    for (auto& n : names) files.emplace_back(std::move(n), static_cast<int64_t>(c));
  }

  // Decode in parallel into per-file slots, then pack in file order (deterministic).
  std::vector<std::vector<uint8_t>> decoded(files.size());
  std::vector<std::string> errors(files.size());
  std::vector<std::pair<int, int>> sizes(files.size());
  parallel_for(static_cast<int64_t>(files.size()), 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      try {
        const auto bytes = read_file(files[i].first);
        decoded[i] = decode_image_rgb(files[i].first, bytes.data(), bytes.size(), sizes[i].first,
                                      sizes[i].second);
      } catch (const std::exception& ex) {
        errors[i] = ex.what();
      }
    }
  });
  width_ = opt.expect_width, height_ = opt.expect_height, channels_ = 3;
  if (width_ == 0) {
    // The size most images have is the expected one, so the message blames the odd file out
    // even when it happens to come first.
    std::map<std::pair<int, int>, int64_t> count;
    for (size_t i = 0; i < files.size(); ++i)
      if (errors[i].empty()) ++count[sizes[i]];
    int64_t best = 0;
    for (const auto& [size, n] : count)
      if (n > best) best = n, width_ = size.first, height_ = size.second;
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (errors[i].empty() && (sizes[i].first != width_ || sizes[i].second != height_))
      errors[i] = files[i].first + ": image is " + std::to_string(sizes[i].first) + "x" +
                  std::to_string(sizes[i].second) + ", expected " + std::to_string(width_) + "x" +
                  std::to_string(height_);
    if (!errors[i].empty()) {
      if (!opt.skip_bad) throw Error(errors[i]);
      skipped_files_.push_back(files[i].first);
      ++skipped_;
      continue;
    }
    labels_.push_back(files[i].second);
  }
  pixels_.resize(labels_.size() * image_bytes());
  size_t k = 0;
  for (size_t i = 0; i < files.size(); ++i)
    if (errors[i].empty())
      std::copy(decoded[i].begin(), decoded[i].end(), pixels_.begin() + (k++) * image_bytes());
  if (labels_.empty()) throw Error(root + ": no readable images");
}

}  // namespace nl::data
