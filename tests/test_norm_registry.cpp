// The normalizer registry (layers/norm/registry.hpp): its option tables drive parsing and
// errors, and every docs page shows its normalizer's table exactly as the registry states it.
// NORMLAB_UPDATE_DOCS=1 ./build/tests/normlab_tests -ts=norm rewrites the generated parts.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "helpers.hpp"
#include "layers/norm/factory.hpp"
#include "layers/norm/group_norm.hpp"

using namespace nl;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kDocs = std::string(NORMLAB_TEST_DIR) + "/../docs/norms/";

// Checks that `path` holds `block` between `begin` and `end` (the markers are part of the
// block); with NORMLAB_UPDATE_DOCS set, writes it there instead (before `before` when the
// markers are missing, or at the end).
void check_generated_block(const std::string& path, const std::string& begin,
                           const std::string& end, const std::string& block,
                           const std::string& before) {
  std::string page = read_text(path);
  REQUIRE_MESSAGE(!page.empty(), path, " is missing");
  const size_t at = page.find(begin);
  const size_t stop = at == std::string::npos ? at : page.find(end, at);
  const std::string current = at == std::string::npos || stop == std::string::npos
                                  ? ""
                                  : page.substr(at, stop + end.size() - at);
  if (std::getenv("NORMLAB_UPDATE_DOCS") != nullptr) {
    if (current == block) return;
    if (current.empty()) {
      const size_t there = page.find(before);
      page.insert(there == std::string::npos ? page.size() : there, block + "\n\n");
    } else {
      page.replace(at, current.size(), block);
    }
    std::ofstream(path) << page;
    return;
  }
  CHECK_MESSAGE(
      current == block, path, " is out of date with the registry; ",
      "NORMLAB_UPDATE_DOCS=1 ./build/tests/normlab_tests -ts=norm rewrites it. Expected:\n", block);
}

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("every docs page shows its normalizer's option table as the registry states it") {
    for (const NormEntry& entry : norm_registry()) {
      if (entry.family == NormFamily::experiment) continue;  // registered by the apps
      CAPTURE(entry.name);
      const std::string begin = "<!-- options: " + entry.name + " -->\n", end = "<!-- /options -->";
      check_generated_block(
          kDocs + entry.page_or_name() + ".md", begin, end,
          begin + "## Options of `" + entry.name + "`\n\n" + norm_options_markdown(entry) + end,
          "<!-- measured-in -->");
    }
  }

  TEST_CASE("the docs index lists every registered normalizer with its page") {
    const std::string begin = "<!-- registry -->\n", end = "<!-- /registry -->";
    std::string block = begin +
                        "Every normalizer `make_norm` knows, as `train --list-norms` "
                        "prints them (generated from the registry), by family:\n";
    std::optional<NormFamily> family;
    for (const NormEntry& entry : norm_registry()) {
      if (entry.family == NormFamily::experiment) continue;
      if (entry.family != family)
        block += std::string("\n*") + family_title(*(family = entry.family)) + "*\n\n";
      block += "- [`" + entry.name + "`](" + entry.page_or_name() + ".md): " + entry.summary + "\n";
    }
    check_generated_block(kDocs + "index.md", begin, end, block + end, "Conventions");
  }

  TEST_CASE("spec errors come from the option table and name the option") {
    const auto message = [](const std::string& spec) {
      try {
        make_norm(spec, 16);
      } catch (const Error& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    };
    CHECK(message("bn:eps=0") ==
          "norm spec 'bn:eps=0': eps=0 is out of range; eps must be in (0, 1]");
    CHECK(message("bn:momentum=often").find("momentum=often is not a number") != std::string::npos);
    CHECK(message("gn:groups=2.5").find("groups must be a positive integer, got 2.5") !=
          std::string::npos);
    CHECK(message("online:ecm=xy").find("ecm=xy is not one of ls|ac|none") != std::string::npos);
    CHECK(message("bn:affine=maybe").find("affine must be true or false") != std::string::npos);
    CHECK(message("gn:groups=2,group_size=4").find("gives both groups and group_size") !=
          std::string::npos);
    const std::string unknown = message("gn:grups=2");
    CHECK(unknown.find("unknown argument 'grups'") != std::string::npos);
    CHECK(unknown.find("its options are groups, group_size, eps, affine") != std::string::npos);
    CHECK(message("cwn:eps=1").find("it takes no options") != std::string::npos);
  }

  TEST_CASE("a normalizer registered at run time is built by make_norm and listed") {
    register_norm({.name = "test_gn2",
                   .family = NormFamily::sample,
                   .summary = "GroupNorm with two groups, registered by a test",
                   .options = {NormOption::number("eps", 1e-5, kEps, "added to the variance")},
                   .build = [](const NormArgs& a, int64_t c) {
                     return NormSlot{std::make_shared<GroupNorm>(2, c, a.number("eps"))};
                   }});
    const auto gn = std::dynamic_pointer_cast<GroupNorm>(make_norm("test_gn2:eps=1e-3", 8).module);
    REQUIRE(gn);
    CHECK(gn->num_groups == 2);
    CHECK(list_norms_text().find("test_gn2") != std::string::npos);
    CHECK_THROWS_WITH_AS(register_norm({.name = "test_gn2", .build = find_norm("gn")->build}),
                         doctest::Contains("already registered"), Error);
  }
}
