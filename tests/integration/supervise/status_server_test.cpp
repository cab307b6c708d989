// The probe listener (agent/supervise/status_server.hpp) under abuse: many idle connections, and
// a descriptor table that is full. The real StatusServer on the real EventLoop, in a fresh process
// of its own (`--child status-server`), so that its limits and its CPU time are its own.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "agent/supervise/event_loop.hpp"
#include "agent/supervise/status_server.hpp"
#include "child.hpp"
#include "support/harness.hpp"

using namespace harness;

namespace {
// The server on 127.0.0.1:$LEAF_TEST_STATUS_PORT answering /livez. With LEAF_TEST_FILL_FDS set,
// its descriptor table is then filled up to a lowered RLIMIT_NOFILE; SIGUSR1 frees it again.
// Prints "serving" once the table is as asked. Ends on SIGTERM.
int status_server_child() {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char* port = std::getenv("LEAF_TEST_STATUS_PORT");
  if (!port) return 2;
  leaf::EventLoop loop;
  leaf::StatusServer server(loop, std::string("127.0.0.1:") + port, [](const std::string& path) {
    return path == "/livez" ? leaf::HttpResponse{200, "text/plain", "live\n"} : leaf::HttpResponse{404, "text/plain", "no\n"};
  });
  std::vector<int> filler;
  if (std::getenv("LEAF_TEST_FILL_FDS")) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 64;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return 3;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  }
  loop.on_signal([&](int sig) {
    if (sig == SIGUSR1) {
      for (const int fd : filler) ::close(fd);
      filler.clear();
    } else {
      loop.stop();
    }
  });
  std::printf("serving\n");
  std::fflush(stdout);
  loop.run();
  return 0;
}
const leaf::test::RegisterChild status_server("status-server", status_server_child);

std::unique_ptr<Process> start_server(int port, bool fill_fds) {
  std::map<std::string, std::string> env = {{"LEAF_TEST_STATUS_PORT", std::to_string(port)}};
  if (fill_fds) env["LEAF_TEST_FILL_FDS"] = "1";
  auto p = std::make_unique<Process>(std::vector<std::string>{"/proc/self/exe", "--child", "status-server"}, env);
  REQUIRE_MESSAGE(wait_until([&] { return p->out().find("serving") != std::string::npos; }, 10s), p->err());
  return p;
}

// A connected TCP socket to 127.0.0.1:port that says nothing; -1 if the connect failed.
int idle_connection(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The server closed this connection (EOF or reset), without waiting.
bool closed_by_peer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

int count_open_fds(pid_t pid) {
  const auto r = run({"sh", "-c", "ls /proc/" + std::to_string(pid) + "/fd | wc -l"});
  return std::atoi(r.out.c_str());
}

// utime + stime of `pid`, in clock ticks.
long cpu_ticks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stol(f);
    if (i == 15) {
      stime = std::stol(f);
      break;
    }
  }
  return utime + stime;
}
}  // namespace

TEST_CASE("status server: idle connections beyond its cap are dropped, and /livez still answers") {
  const int port = free_port();
  auto server = start_server(port, false);
  const std::string livez = "http://127.0.0.1:" + std::to_string(port) + "/livez";
  REQUIRE(http_get(livez).status == 200);
  const int base = count_open_fds(server->pid());
  // 200 connections that never send a request: each was held 5 s, with no limit on their number.
  struct Idle : std::vector<int> {
    ~Idle() {
      for (const int fd : *this) ::close(fd);
    }
  } idle;
  for (int i = 0; i < 200; ++i) {
    const int fd = idle_connection(port);
    if (fd >= 0) idle.push_back(fd);
  }
  CHECK(idle.size() == 200);
  const auto t0 = Clock::now();
  const auto live = http_get(livez, 2s);
  CHECK(live.status == 200);
  CHECK(Clock::now() - t0 < 1s);
  // The server holds at most its cap (64) of them: the oldest were closed, not kept for 5 s.
  int dropped = 0;
  CHECK(wait_until(
      [&] {
        dropped = 0;
        for (const int fd : idle) dropped += closed_by_peer(fd);
        return dropped >= 200 - 64;
      },
      2s));
  const int held = count_open_fds(server->pid()) - base;
  CAPTURE(dropped);
  CHECK(held <= 64);
  CHECK(server->stop(5s) == 0);
}

TEST_CASE("status server: a full descriptor table does not make it spin, and it serves again once freed") {
  const int port = free_port();
  auto server = start_server(port, true);
  // A connection waits in the backlog: the listener is readable and accept4 fails with EMFILE.
  const int waiting = idle_connection(port);
  REQUIRE(waiting >= 0);
  const long before = cpu_ticks(server->pid());
  std::this_thread::sleep_for(2s);
  const long used = cpu_ticks(server->pid()) - before;
  const long per_second = ::sysconf(_SC_CLK_TCK);
  CAPTURE(used);
  CHECK(used < per_second / 10);  // under 0.1 s of CPU in 2 s; a spinning loop takes all it gets
  ::close(waiting);
  // Descriptors free again: the listener is watched again and /livez answers.
  server->signal(SIGUSR1);
  const std::string livez = "http://127.0.0.1:" + std::to_string(port) + "/livez";
  CHECK(wait_until([&] { return http_get(livez, 1s).status == 200; }, 5s));
  CHECK(server->stop(5s) == 0);
}
