// A folder of images, one subfolder per class (classes in sorted order), decoded with stb_image
// (JPEG, PNG, BMP, ...). Decoding runs in parallel with TBB; pixels stay uint8 in memory.
//   root/airplane/0001.jpg, root/automobile/0001.jpg, ...
// Every image must have the size of the first one (or `expect_width/height` when given) and is
// converted to 3 channels. A missing folder, an empty class folder, an unreadable or corrupt
// image or a wrong size throws naming the file, unless skip_bad is set: then bad files are
// counted in skipped() and listed in skipped_files().
#pragma once
#include <string>
#include <vector>

#include "data/image_set.hpp"

namespace nl::data {

struct ImageFolderOptions {
  bool skip_bad = false;
  int expect_width = 0, expect_height = 0;  // 0: take the first image's size
};

class ImageFolder : public ImageSet {
 public:
  explicit ImageFolder(const std::string& root, ImageFolderOptions options = {});
  const std::vector<std::string>& skipped_files() const { return skipped_files_; }

 private:
  std::vector<std::string> skipped_files_;
};

// Decodes one encoded image into planar RGB (3, H, W); throws naming `name` on failure.
// Exposed for the fuzzer and tests.
std::vector<uint8_t> decode_image_rgb(const std::string& name, const uint8_t* bytes, size_t size,
                                      int& width, int& height);

}  // namespace nl::data
