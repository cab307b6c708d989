// Starting children (agent/supervise/process.hpp) with real processes: run_capture's bound holds
// whatever the child does with its output, and a spawn that fails half-way leaks no descriptor.
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "agent/core/error.hpp"
#include "agent/supervise/process.hpp"
#include "child.hpp"
#include "support/harness.hpp"

using namespace harness;
using namespace leaf;

namespace {
// Open descriptors of this process (the directory's own is not counted).
int open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;
}

// A spawn whose second pipe2 fails (EMFILE): the descriptor table is filled up to a lowered
// RLIMIT_NOFILE but for two slots, which the first pipe (the captured output) takes. Exit 0 when
// as many descriptors are open after the failed spawn as before, 1 when some leaked, 3 when the
// setup did not come about (the spawn did not fail). In a fresh process: the limit is its own.
int spawn_failing_at_second_pipe() {
  const int before = open_fds();
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = static_cast<rlim_t>(before + 32);
  if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return 3;
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  if (filler.size() < 2) return 3;
  for (int i = 0; i < 2; ++i) {
    ::close(filler.back());
    filler.pop_back();
  }
  bool threw = false;
  try {
    process::try_spawn({"true"}, {}, process::SpawnOptions{true, true, false});
  } catch (const std::exception&) {
    threw = true;
  }
  for (const int fd : filler) ::close(fd);
  const int after = open_fds();
  std::fprintf(stderr, "descriptors before %d, after %d, spawn %s\n", before, after, threw ? "failed" : "succeeded");
  if (!threw) return 3;
  return after == before ? 0 : 1;
}
const leaf::test::RegisterChild second_pipe("spawn-failing-at-second-pipe", spawn_failing_at_second_pipe);
}  // namespace

TEST_CASE("process: run_capture is bounded by its timeout after the child closed its output") {
  // A wrapper that closes stdout and stderr and keeps running: EOF comes at once, its exit in 30 s.
  // The wait for the exit is bounded by the same timeout, and the group killed (issue #20).
  const std::string marker = "29." + std::to_string(::getpid());  // sleep's argument: names it for pgrep
  const auto t0 = Clock::now();
  std::string error;
  try {
    process::run_capture({"sh", "-c", "exec >&- 2>&-; sleep " + marker}, 500ms, {});
  } catch (const Error& e) {
    error = e.what();
    CHECK(e.code() == Exit::server);
  }
  const auto took = Clock::now() - t0;
  CHECK_MESSAGE(took < 1500ms, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(error == "sh -c timed out after 500 ms and was killed");
  CHECK(wait_until([&] { return pids_with("sleep " + marker).empty(); }, 2s));  // its group went too
}

TEST_CASE("process: run_capture is bounded by its timeout while the child keeps writing") {
  const auto t0 = Clock::now();
  CHECK_THROWS_AS(process::run_capture({"yes"}, 300ms, {}), Error);
  CHECK(Clock::now() - t0 < 1500ms);
}

TEST_CASE("process: run_capture gives a quick child's output and exit code") {
  const auto r = process::run_capture({"sh", "-c", "echo out; echo err >&2; exit 3"}, 5s, {});
  CHECK(r.exit_code == 3);
  CHECK(r.output == "out\nerr\n");
}

TEST_CASE("process: a spawn failing at its second pipe leaks no descriptor") {
  const auto r = run({"/proc/self/exe", "--child", "spawn-failing-at-second-pipe"}, {}, "", 30s);
  CAPTURE(r.err);
  CHECK(r.code == 0);
}

TEST_CASE("process: a child's environment sets each name once, an added one over the agent's, the later of two added") {
  ::setenv("LEAF_TEST_ENV_A", "from-agent", 1);
  const auto env = leaf::process::environment({"LEAF_TEST_ENV_DROP"}, {"LEAF_TEST_ENV_A=first", "LEAF_TEST_ENV_B=b",
                                                                       "LEAF_TEST_ENV_A=second"});
  ::unsetenv("LEAF_TEST_ENV_A");
  std::vector<std::string> a;
  for (const auto& kv : env) {
    if (kv.rfind("LEAF_TEST_ENV_", 0) == 0) a.push_back(kv);
  }
  CHECK(a == std::vector<std::string>{"LEAF_TEST_ENV_B=b", "LEAF_TEST_ENV_A=second"});
}
