#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "child.hpp"

namespace {
int g_test_cases_run = 0;

// Counts the test cases that actually ran.
struct CountingListener : doctest::IReporter {
  explicit CountingListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++g_test_cases_run; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};
REGISTER_LISTENER("counting", 1, CountingListener);
}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string_view(argv[1]) == "--child") {  // child.hpp
    const auto it = leaf::test::children().find(argv[2]);
    return it == leaf::test::children().end() ? 2 : it->second();
  }
  // The release matrix (CMakeLists.txt): --leaf-nats=PATH and --hub-nats=PATH choose the
  // nats-server binaries (harness::leaf_nats, hub_nats); doctest does not see them.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.rfind("--leaf-nats=", 0) == 0) {
      ::setenv("LEAF_AGENT_AGENT_NATS_SERVER", argv[i] + 12, 1);
    } else if (a.rfind("--hub-nats=", 0) == 0) {
      ::setenv("LEAF_TEST_HUB_NATS_SERVER", argv[i] + 11, 1);
    } else {
      args.push_back(argv[i]);
    }
  }
  doctest::Context ctx(static_cast<int>(args.size()), args.data());
  const int result = ctx.run();
  if (ctx.shouldExit()) return result;
  // ctest runs one test case per process by name: a filter that matches nothing means a broken
  // registration (e.g. a name CMake split at a ';'), which must fail, not pass with 0 tests.
  if (g_test_cases_run == 0) {
    std::fprintf(stderr, "doctest: no test case matched the filters\n");
    return 1;
  }
  return result;
}
