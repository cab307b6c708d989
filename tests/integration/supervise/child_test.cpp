// One supervised process (supervise/child.hpp) with a real event loop and real processes.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "agent/supervise/child.hpp"
#include "agent/supervise/event_loop.hpp"
#include "agent/supervise/process.hpp"
#include "support/harness.hpp"

// Issue #20, defect 8: nats-server's last output was read while its pid was still recorded, so a
// failure those lines caused (creds_malformed: stop) signalled a reaped pid, and its group: by
// then possibly another process's.
TEST_CASE("child: its last lines are read after it is marked gone: no signal reaches a reaped pid") {
  leaf::EventLoop loop;
  leaf::Child child(loop);
  std::vector<std::string> lines;
  std::vector<bool> signalled;
  const int err = child.start({"/bin/sh", "-c", "echo first; echo last words; exit 3"},
                              leaf::process::environment({}, {}), [&](const std::string& l) {
                                lines.push_back(l);
                                signalled.push_back(child.signal(SIGTERM));  // what a stop decided on this line does
                              });
  REQUIRE(err == 0);
  const pid_t pid = child.pid();
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);  // reaped, as the loop's SIGCHLD handler does
  CHECK_FALSE(child.reaped(pid + 100000, status));  // another pid: not this child's
  const auto code = child.reaped(pid, status);
  REQUIRE(code);
  CHECK(*code == 3);
  CHECK(lines == std::vector<std::string>{"first", "last words"});
  CHECK(signalled == std::vector<bool>{false, false});
  CHECK_FALSE(child.alive());
  CHECK_FALSE(child.signal(SIGKILL));
}

TEST_CASE("child: a stop reaches its whole process group, and an exec failure is an errno with nothing running") {
  leaf::EventLoop loop;
  leaf::Child child(loop);
  REQUIRE(child.start({"/bin/sh", "-c", "sleep 30 & sleep 30"}, leaf::process::environment({}, {})) == 0);
  const pid_t pid = child.pid();
  CHECK(child.signal(SIGTERM));
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(child.reaped(pid, status) == 128 + SIGTERM);
  // The background sleep was in the group: dead too. Not "kill -0 on the group fails": the
  // orphan's zombie stays in the group until PID 1 reaps it, which took up to 2 s on the CI
  // machine (its init reaps late), and failed this test once under ASan.
  bool group_gone = false;
  for (int i = 0; i < 300 && !group_gone; ++i) {
    group_gone = harness::running_in_group(pid) == 0;
    if (!group_gone) ::usleep(10000);
  }
  CHECK(group_gone);
  leaf::Child missing(loop);
  CHECK(missing.start({"/nonexistent/binary"}, leaf::process::environment({}, {})) == ENOENT);
  CHECK_FALSE(missing.alive());
}
