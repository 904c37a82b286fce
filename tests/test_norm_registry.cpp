// The normalizer registry (layers/norm/registry.hpp): its option tables drive parsing and
// errors, and every docs page shows its normalizer's table exactly as the registry states it.
// NORMLAB_UPDATE_DOCS=1 ./build/tests/normlab_tests -tc="every docs page*" rewrites the pages.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
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

}  // namespace

TEST_SUITE("norm") {
  TEST_CASE("every docs page shows its normalizer's option table as the registry states it") {
    const bool update = std::getenv("NORMLAB_UPDATE_DOCS") != nullptr;
    for (const NormEntry& entry : norm_registry()) {
      if (entry.family == NormFamily::experiment) continue;  // registered by the apps
      const std::string path =
          std::string(NORMLAB_TEST_DIR) + "/../docs/norms/" + entry.page_or_name() + ".md";
      CAPTURE(path);
      std::string page = read_text(path);
      REQUIRE_MESSAGE(!page.empty(), "no docs page for ", entry.name);
      const std::string begin = "<!-- options: " + entry.name + " -->\n", end = "<!-- /options -->";
      const std::string block =
          begin + "## Options of `" + entry.name + "`\n\n" + norm_options_markdown(entry) + end;
      const size_t at = page.find(begin);
      const size_t stop = at == std::string::npos ? at : page.find(end, at);
      const std::string current =
          at == std::string::npos ? "" : page.substr(at, stop + end.size() - at);
      if (update && current != block) {
        if (at == std::string::npos) {  // before the generated "Measured in", else at the end
          const size_t measured = page.find("<!-- measured-in -->");
          page.insert(measured == std::string::npos ? page.size() : measured, block + "\n\n");
        } else {
          page.replace(at, current.size(), block);
        }
        std::ofstream(path) << page;
        continue;
      }
      CHECK_MESSAGE(current == block, "docs page of ", entry.name, " is out of date with its ",
                    "option table; NORMLAB_UPDATE_DOCS=1 rewrites it. Expected:\n", block);
    }
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
