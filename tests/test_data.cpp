// Data: CIFAR binary parsing, image folders, transforms, the loader, and bad input.
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/dist/shard.hpp"
#include "core/parallel.hpp"
#include "data/cifar_binary.hpp"
#include "data/image_folder.hpp"
#include "data/loader.hpp"
#include "helpers.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

using namespace nl;
using namespace nl::data;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() /
             ("normlab_test_" + name + "_" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// n CIFAR-10 records: label i % 10, every pixel of record i equal to i.
std::vector<uint8_t> cifar_records(int n) {
  std::vector<uint8_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(uint8_t(i % 10));
    out.insert(out.end(), 3072, uint8_t(i));
  }
  return out;
}

void write_png(const fs::path& p, int w, int h, uint8_t value) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3, value);
  REQUIRE(stbi_write_png(p.string().c_str(), w, h, 3, rgb.data(), w * 3));
}

void write_jpg(const fs::path& p, int w, int h, uint8_t value) {
  std::vector<uint8_t> rgb(size_t(w) * h * 3, value);
  REQUIRE(stbi_write_jpg(p.string().c_str(), w, h, 3, rgb.data(), 95));
}

std::vector<uint8_t> read_file_for_test(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

}  // namespace

TEST_SUITE("data") {
  TEST_CASE("CIFAR-10 binary records parse into labels and planar pixels") {
    TempDir dir("cifar");
    for (int b = 1; b <= 5; ++b)
      write_bytes(dir.path / ("data_batch_" + std::to_string(b) + ".bin"), cifar_records(3));
    auto test_bytes = cifar_records(4);
    test_bytes[1 + 1024] = 200;  // first G pixel of record 0
    write_bytes(dir.path / "test_batch.bin", test_bytes);
    CHECK(is_cifar10_binary_dir(dir.path.string()));
    Cifar10Binary train(dir.path.string(), true), test(dir.path.string(), false);
    CHECK(train.size() == 15);
    CHECK(test.size() == 4);
    CHECK(test.label(3) == 3);
    CHECK(test.image(2)[0] == 2);
    CHECK(test.image(0)[1024] == 200);
    CHECK(test.class_names()[9] == "truck");
  }

  TEST_CASE("CIFAR binary errors name the file and the byte offset") {
    auto bytes = cifar_records(3);
    Cifar10Binary set;
    CHECK_THROWS_WITH_AS(
        set.append_records("b.bin", bytes.data(), bytes.size() - 100),
        doctest::Contains("b.bin: size 9119 is not a multiple of the 3073-byte record"), Error);
    CHECK_THROWS_WITH_AS(set.append_records("e.bin", bytes.data(), 0),
                         doctest::Contains("e.bin: empty file"), Error);
    bytes[2 * 3073] = 12;  // label of record 2
    CHECK_THROWS_WITH_AS(set.append_records("l.bin", bytes.data(), bytes.size()),
                         doctest::Contains("l.bin: label 12 at byte offset 6146 (record 2)"),
                         Error);
    auto big = cifar_records(10001);
    CHECK_THROWS_WITH_AS(set.append_records("o.bin", big.data(), big.size()),
                         doctest::Contains("oversized"), Error);
    CHECK_THROWS_WITH_AS(Cifar10Binary("/nonexistent/normlab", true),
                         doctest::Contains("CIFAR-10 folder not found"), Error);
    TempDir dir("cifar_missing");
    write_bytes(dir.path / "data_batch_1.bin", cifar_records(2));
    CHECK_THROWS_WITH_AS(Cifar10Binary(dir.path.string(), true),
                         doctest::Contains("data_batch_2.bin: cannot open"), Error);
  }

  TEST_CASE("CIFAR-100 binary has coarse and fine labels") {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 3; ++i) {
      bytes.push_back(uint8_t(i));       // coarse
      bytes.push_back(uint8_t(50 + i));  // fine
      bytes.insert(bytes.end(), 3072, uint8_t(i));
    }
    Cifar100Binary fine, coarse;
    fine.append_records("t.bin", bytes.data(), bytes.size(), true);
    coarse.append_records("t.bin", bytes.data(), bytes.size(), false);
    CHECK(fine.label(2) == 52);
    CHECK(coarse.label(2) == 2);
    bytes[0] = 25;  // coarse label out of range
    CHECK_THROWS_WITH_AS(coarse.append_records("t.bin", bytes.data(), bytes.size(), false),
                         doctest::Contains("label 25 at byte offset 0"), Error);
  }

  TEST_CASE("image folders: sorted classes; PNG and JPEG; statistics") {
    TempDir dir("folder");
    fs::create_directories(dir.path / "b_cat");
    fs::create_directories(dir.path / "a_dog");
    write_png(dir.path / "a_dog" / "1.png", 4, 3, 10);
    write_png(dir.path / "a_dog" / "2.png", 4, 3, 30);
    write_jpg(dir.path / "b_cat" / "1.jpg", 4, 3, 128);
    ImageFolder set(dir.path.string());
    REQUIRE(set.size() == 3);
    CHECK(set.class_names() == std::vector<std::string>{"a_dog", "b_cat"});
    CHECK(set.label(0) == 0);
    CHECK(set.label(2) == 1);
    CHECK(set.width() == 4);
    CHECK(set.height() == 3);
    CHECK(set.image(1)[0] == 30);
    CHECK(std::abs(int(set.image(2)[5]) - 128) <= 2);  // lossy JPEG
    const auto stats = set.channel_stats();
    CHECK(stats.mean[0] == doctest::Approx((10 + 30 + set.image(2)[0]) / 3.0 / 255).epsilon(0.02));
    CHECK(set.class_counts() == std::vector<int64_t>{2, 1});
  }

  TEST_CASE("image folder errors name the file; skipping is counted") {
    CHECK_THROWS_WITH_AS(ImageFolder("/nonexistent/normlab"),
                         doctest::Contains("image folder not found"), Error);
    TempDir dir("folder_bad");
    fs::create_directories(dir.path / "a");
    fs::create_directories(dir.path / "b");
    write_png(dir.path / "a" / "ok.png", 4, 4, 1);
    CHECK_THROWS_WITH_AS(ImageFolder(dir.path.string()), doctest::Contains("b: empty class folder"),
                         Error);
    write_bytes(dir.path / "b" / "notes.jpg", {'h', 'e', 'l', 'l', 'o'});
    CHECK_THROWS_WITH_AS(ImageFolder(dir.path.string()),
                         doctest::Contains("notes.jpg: cannot decode image"), Error);
    // A truncated JPEG.
    write_jpg(dir.path / "b" / "full.jpg", 16, 16, 77);
    auto jpg = read_file_for_test((dir.path / "b" / "full.jpg").string());
    jpg.resize(jpg.size() / 3);
    fs::remove(dir.path / "b" / "notes.jpg");
    write_bytes(dir.path / "b" / "cut.jpg", jpg);
    CHECK_THROWS_WITH_AS(ImageFolder(dir.path.string()), doctest::Contains("cut.jpg"), Error);
    fs::remove(dir.path / "b" / "cut.jpg");
    // Wrong size (full.jpg is 16x16, ok.png 4x4).
    CHECK_THROWS_WITH_AS(ImageFolder(dir.path.string()),
                         doctest::Contains("full.jpg: image is 16x16, expected 4x4"), Error);
    ImageFolder skipping(dir.path.string(), {.skip_bad = true});
    CHECK(skipping.size() == 1);
    CHECK(skipping.skipped() == 1);
    CHECK(skipping.skipped_files()[0].find("full.jpg") != std::string::npos);
  }

  TEST_CASE("a tiny file claiming huge dimensions is rejected before allocation (fuzz finding)") {
    const auto bytes = read_file_for_test(std::string(NORMLAB_TEST_DIR) +
                                          "/fuzz/regressions/image-huge-dimensions.bin");
    REQUIRE(bytes.size() == 32);
    int w = 0, h = 0;
    CHECK_THROWS_WITH_AS(decode_image_rgb("huge.img", bytes.data(), bytes.size(), w, h),
                         doctest::Contains("huge.img"), Error);
  }

  TEST_CASE("transforms: crop pads with zeros; flip mirrors; normalize; cutout") {
    FloatImage img{1, 2, 2, {1, 2, 3, 4}};
    Generator g(0);
    RandomHorizontalFlip(1.0)->apply(img, g);
    CHECK(img.pixels == std::vector<float>{2, 1, 4, 3});
    Normalize({1.0f}, {2.0f})->apply(img, g);
    CHECK(img.pixels == std::vector<float>{0.5f, 0.0f, 1.5f, 1.0f});
    // Crop 2 from a 1-px zero-padded 2x2 image: every result holds some zeros unless centred.
    int zeros_seen = 0;
    for (uint64_t s = 0; s < 20; ++s) {
      FloatImage im{1, 2, 2, {1, 1, 1, 1}};
      Generator gs(s);
      RandomCrop(2, 1)->apply(im, gs);
      CHECK(im.h == 2);
      for (float v : im.pixels) zeros_seen += v == 0;
    }
    CHECK(zeros_seen > 0);
    // --crop-fill mean: the padding holds the given per-channel value, never 0.
    // --crop-fill reflect: a 3x3 crop of a 1-px reflect-padded 3x3 image holds only its pixels,
    // and a crop at offset (-1, -1) starts with the mirrored pixel (1, 1), not the edge (0, 0).
    for (uint64_t s = 0; s < 20; ++s) {
      FloatImage a{1, 2, 2, {1, 1, 1, 1}};
      Generator ga(s);
      RandomCrop(2, 1, CropFill::value, {0.25f})->apply(a, ga);
      for (float v : a.pixels) CHECK((v == 1.0f || v == 0.25f));
      FloatImage r{1, 3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
      Generator gr(s);
      RandomCrop(3, 1, CropFill::reflect)->apply(r, gr);
      for (float v : r.pixels) CHECK((v >= 1 && v <= 9));
      if (r.pixels[4] == 1)  // shifted by (-1, -1): the first row and column are reflections
        CHECK(r.pixels == std::vector<float>{5, 4, 5, 2, 1, 2, 5, 4, 5});
    }
    CHECK_THROWS_WITH_AS(RandomCrop(2, 1, CropFill::value, {0.1f, 0.2f})->apply(img, g),
                         doctest::Contains("one value per channel"), Error);
    FloatImage big{1, 8, 8, std::vector<float>(64, 1.0f)};
    Cutout(4)->apply(big, g);
    int zeros = 0;
    for (float v : big.pixels) zeros += v == 0;
    CHECK(zeros > 0);
    CHECK(zeros <= 16);
  }

  TEST_CASE("the loader is seeded; complete; and independent of the thread count") {
    Cifar10Binary set;
    auto bytes = cifar_records(50);
    set.append_records("mem", bytes.data(), bytes.size());
    Compose aug({RandomCrop(32, 4), RandomHorizontalFlip(),
                 Normalize({0.5f, 0.5f, 0.5f}, {0.25f, 0.25f, 0.25f})});
    auto epoch_batches = [&](int threads, uint64_t seed) {
      set_num_threads(threads);
      DataLoader loader(set, {.batch_size = 16, .shuffle = true, .drop_last = false, .seed = seed},
                        aug);
      loader.start_epoch(3);
      std::vector<Batch> out;
      while (auto b = loader.next()) out.push_back(std::move(*b));
      set_num_threads(0);
      return out;
    };
    auto a = epoch_batches(1, 7), b = epoch_batches(2, 7), c = epoch_batches(2, 8);
    REQUIRE(a.size() == 4);  // 50 = 16 + 16 + 16 + 2
    CHECK(a.back().labels.size() == 2);
    std::vector<int> seen(50, 0);
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].indices == b[i].indices);
      CHECK(test::max_abs_diff(a[i].images, b[i].images) == 0);
      for (int64_t k : a[i].indices) ++seen[k];
      CHECK(a[i].images.shape()[1] == 3);
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    CHECK(a[0].indices != c[0].indices);
    DataLoader dropping(set, {.batch_size = 16, .drop_last = true});
    CHECK(dropping.batches_per_epoch() == 3);
  }

  TEST_CASE("data-parallel shards: disjoint, their union the one-process batch, reshuffled") {
    Cifar10Binary set;
    auto bytes = cifar_records(70);
    set.append_records("mem", bytes.data(), bytes.size());
    Compose aug({RandomCrop(32, 4), RandomHorizontalFlip()});
    const LoaderOptions one{.batch_size = 15, .shuffle = true, .drop_last = true, .seed = 5};
    auto epoch_batches = [&](int rank, int ranks, int64_t epoch) {
      LoaderOptions o = one;
      o.rank = rank, o.ranks = ranks;
      DataLoader loader(set, o, aug);
      loader.start_epoch(epoch);
      std::vector<Batch> out;
      while (auto b = loader.next()) out.push_back(std::move(*b));
      return out;
    };
    for (int ranks : {2, 3, 4}) {
      const auto whole = epoch_batches(0, 1, 3);
      std::vector<std::vector<Batch>> shards;
      for (int r = 0; r < ranks; ++r) shards.push_back(epoch_batches(r, ranks, 3));
      REQUIRE(whole.size() == 4);  // 70 / 15, the last 10 dropped
      for (size_t b = 0; b < whole.size(); ++b) {
        std::vector<int64_t> joined;
        std::vector<double> pixels;
        for (int r = 0; r < ranks; ++r) {
          REQUIRE(shards[r].size() == whole.size());
          const Batch& s = shards[r][b];
          CHECK(s.indices.size() == size_t(dist::shard_of(15, r, ranks).size()));
          joined.insert(joined.end(), s.indices.begin(), s.indices.end());
          const auto v = s.images.to_vector();
          pixels.insert(pixels.end(), v.begin(), v.end());
        }
        CHECK(joined == whole[b].indices);             // disjoint, in order, the same samples
        CHECK(pixels == whole[b].images.to_vector());  // and the same augmentation
      }
    }
    CHECK(epoch_batches(1, 2, 3)[0].indices != epoch_batches(1, 2, 4)[0].indices);
    CHECK_THROWS_WITH_AS(DataLoader(set, {.batch_size = 3, .rank = 0, .ranks = 4}),
                         doctest::Contains("at least one"), Error);
  }

  // Reported as skipped (not passed) when ../shared is not beside the checkout.
  TEST_CASE(
      "the real CIFAR-10 JPEG folder loads with the published statistics" *
      doctest::skip(!fs::exists(fs::path(NORMLAB_SHARED_DIR) / "datasets" / "cifar10-jpeg"))) {
    const fs::path root = fs::path(NORMLAB_SHARED_DIR) / "datasets" / "cifar10-jpeg";
    const auto t0 = std::chrono::steady_clock::now();
    ImageFolder train((root / "train").string()), test((root / "test").string());
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("loaded 60000 JPEGs in ", seconds, " s");
    CHECK(train.size() == 50000);
    CHECK(test.size() == 10000);
    CHECK(train.num_classes() == 10);
    for (int64_t c : train.class_counts()) CHECK(c == 5000);
    CHECK(train.class_names()[0] == "airplane");
    const auto s = train.channel_stats();
    CHECK(s.mean[0] == doctest::Approx(0.4913).epsilon(0.001 / 0.4913));
    CHECK(s.mean[1] == doctest::Approx(0.4821).epsilon(0.001 / 0.4821));
    CHECK(s.mean[2] == doctest::Approx(0.4465).epsilon(0.001 / 0.4465));
  }
}
