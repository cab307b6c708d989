#pragma once
// Part of a test run in a fresh process: `<test binary> --child NAME` runs what a test registered
// under NAME instead of the tests (doctest_main.cpp); the test runs it with harness::run. Fresh,
// not forked: nothing the test process did before (OpenSSL initialised by another test, doctest's
// signal handlers) is inherited.
#include <map>
#include <string>

namespace leaf::test {

using ChildMain = int (*)();

inline std::map<std::string, ChildMain>& children() {
  static std::map<std::string, ChildMain> m;
  return m;
}

struct RegisterChild {
  RegisterChild(const char* name, ChildMain f) { children()[name] = f; }
};

}  // namespace leaf::test
