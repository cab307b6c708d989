#pragma once
// Part of a test run in a fresh process: `<test binary> --child NAME` runs what a test registered
// under NAME instead of the tests (doctest_main.cpp). Fresh, not forked: nothing the test process
// did before (OpenSSL initialised by another test, doctest's signal handlers) is inherited.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

extern char** environ;

namespace leaf::test {

using ChildMain = int (*)();

inline std::map<std::string, ChildMain>& children() {
  static std::map<std::string, ChildMain> m;
  return m;
}

struct RegisterChild {
  RegisterChild(const char* name, ChildMain f) { children()[name] = f; }
};

// Runs `/proc/self/exe --child name` and waits up to `limit`: its wait status, or -1 once it had to
// be killed.
inline int run_child(const std::string& name, std::chrono::seconds limit) {
  std::string self = "/proc/self/exe", flag = "--child";
  char* argv[] = {self.data(), flag.data(), const_cast<char*>(name.c_str()), nullptr};
  pid_t pid = -1;
  if (::posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, environ) != 0) return -1;
  const auto end = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

}  // namespace leaf::test
