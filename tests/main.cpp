// The doctest runner, with one addition: a run whose filters selected no test case fails.
// doctest's own main reports success when, say, -tc names a test that does not exist (or a
// name with a comma, which doctest splits into two filters): a green check that checked
// nothing. Test names in this suite contain no commas, so any name can be given to -tc.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

int g_selected = -1;  // test cases that passed the filters in the last run

struct SelectionCounter : doctest::IReporter {
  explicit SelectionCounter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    g_selected = int(stats.numTestCasesPassingFilters);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_LISTENER("selection_counter", 1, SelectionCounter);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int rc = context.run();
  if (context.shouldExit()) return rc;  // --help, --list-test-cases, ...
  if (rc == 0 && g_selected == 0) {
    std::fprintf(stderr,
                 "no test case matched the filters, so nothing was checked (doctest splits "
                 "-tc/-ts filters at commas; use wildcards: -tc=\"*GroupNorm*\")\n");
    return 1;
  }
  return rc;
}
