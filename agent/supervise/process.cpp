#include "agent/supervise/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "agent/core/error.hpp"
#include "agent/supervise/event_loop.hpp"

extern char** environ;

namespace leaf::process {

using namespace std::chrono_literals;

namespace {
std::mutex g_reaped_mu;
std::condition_variable g_reaped_cv;
std::map<pid_t, int> g_reaped;  // pid -> status, for pids the loop reaped but does not own

// Waits for `pid` to exit, whoever reaps it, until `deadline`; its wait status, or nullopt at
// the deadline. A pidfd turns readable at the exit, so the wait costs no polling; where there is
// none (kernel before 5.3, a seccomp filter) waitpid is retried every few milliseconds.
std::optional<int> wait_child(pid_t pid, std::chrono::steady_clock::time_point deadline) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::optional<int> out;
  for (auto pause = 1ms;; pause = std::min(pause * 2, std::chrono::milliseconds(20))) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      out = status;
      break;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {  // ECHILD: the loop's reaper was faster; it leaves the status with note_reaped()
      std::unique_lock<std::mutex> g(g_reaped_mu);
      if (g_reaped_cv.wait_until(g, deadline, [pid] { return g_reaped.count(pid) > 0; })) {
        out = g_reaped[pid];
        g_reaped.erase(pid);
      }
      break;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 60'000)));
    } else {
      std::this_thread::sleep_for(std::min(pause, left));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return out;
}

// Closes the descriptors of a spawn that did not come about.
void close_all(std::initializer_list<int> fds) {
  for (const int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
}

// "500 ms", "30 s": a run_capture bound as it was given.
std::string span_text(std::chrono::milliseconds t) {
  return t.count() % 1000 == 0 ? std::to_string(t.count() / 1000) + " s" : std::to_string(t.count()) + " ms";
}
}  // namespace

void note_reaped(pid_t pid, int status) {
  {
    std::lock_guard<std::mutex> g(g_reaped_mu);
    if (g_reaped.size() > 256) g_reaped.erase(g_reaped.begin());  // orphans nobody asks about
    g_reaped[pid] = status;
  }
  g_reaped_cv.notify_all();
}

SpawnResult try_spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const SpawnOptions& o) {
  if (argv.empty()) throw internal_error("spawn: empty command");
  int out[2] = {-1, -1};
  int status_pipe[2] = {-1, -1};
  if (o.capture && ::pipe2(out, O_CLOEXEC) != 0) throw internal_error(std::string("pipe2: ") + std::strerror(errno));
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all({out[0], out[1]});
    throw internal_error(std::string("pipe2: ") + std::strerror(err));
  }
  // Build argv/envp before fork: the child may only call async-signal-safe functions.
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t parent = ::getpid();

  // vfork: the parent waits (microseconds) until exec, and neither its page tables are copied
  // nor its pages made copy-on-write: spawning nats-server is on the critical path to ready.
  // The child only calls async-signal-safe functions and never returns from here; it has its
  // own file table and signal dispositions (no CLONE_FILES, no CLONE_SIGHAND).
  const pid_t pid = ::vfork();
  if (pid < 0) {
    const int err = errno;
    close_all({out[0], out[1], status_pipe[0], status_pipe[1]});
    throw internal_error(std::string("vfork: ") + std::strerror(err));
  }
  if (pid == 0) {
    EventLoop::restore_signals_for_child();
    if (o.own_process_group) ::setpgid(0, 0);
    if (o.die_with_parent) {
      // Tied to the forking thread: long-lived children are spawned from the main thread.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);  // the parent died before prctl took effect
    }
    if (o.capture) {
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
    }
    // Only 0-2 cross exec: libraries (nats.c's sockets) do not all open with CLOEXEC.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execvpe(args[0], args.data(), envp.data());
    const int err = errno;
    (void)!::write(status_pipe[1], &err, sizeof err);
    _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
  }
  if (o.own_process_group) ::setpgid(pid, pid);  // also from here: no race with an early kill(-pid)
  ::close(status_pipe[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(status_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(status_pipe[0]);
  if (o.capture) ::close(out[1]);
  SpawnResult r;
  if (n == sizeof child_errno) {
    if (o.capture) ::close(out[0]);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    r.error_errno = child_errno;
    return r;
  }
  if (o.capture) ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  r.spawned = Spawned{pid, o.capture ? out[0] : -1};
  return r;
}

int exec_failure_code(int err) { return err == ENOENT || err == ENOTDIR ? 127 : 126; }

Captured run_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                     const std::function<bool()>& cancelled) {
  const SpawnResult sr = try_spawn(argv, environment({}, {}), SpawnOptions{true, true, true});
  if (sr.error_errno != 0) {
    throw Error(Exit::server, "cannot start " + argv[0] + ": " + std::strerror(sr.error_errno) +
                                  (sr.error_errno == ENOENT ? " (is it installed and on PATH?)" : ""));
  }
  const Spawned s = sr.spawned;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Captured c;
  char buf[4096];
  std::string why;
  const auto stop_if_due = [&] {
    if (cancelled && cancelled()) why = "cancelled";
    else if (std::chrono::steady_clock::now() >= deadline) why = "timed out";
    return !why.empty();
  };
  // Output until EOF; the bound is looked at on every pass, so a child that never stops writing
  // ends at it too.
  for (;;) {
    if (stop_if_due()) break;
    const ssize_t n = ::read(s.output_fd, buf, sizeof buf);
    if (n > 0) {
      if (c.output.size() < 64 * 1024) c.output.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;  // EOF: it is exiting
    pollfd p{s.output_fd, POLLIN, 0};
    ::poll(&p, 1, 50);
  }
  ::close(s.output_fd);
  // Then its exit, within the same bound: EOF only says its output is closed (a wrapper that
  // closed stdout and stderr and runs on holds it open no longer).
  std::optional<int> status;
  while (!stop_if_due() && !(status = wait_child(s.pid, std::min(deadline, std::chrono::steady_clock::now() + 50ms)))) {
  }
  if (!why.empty()) {
    ::kill(-s.pid, SIGKILL);  // its own group: whatever a wrapper script started goes too
    ::kill(s.pid, SIGKILL);
    // Reaped within moments of SIGKILL; the 10 s only guard against a status nobody hands over.
    if (!wait_child(s.pid, std::chrono::steady_clock::now() + 10s)) {
      throw internal_error("lost the exit status of child " + std::to_string(s.pid));
    }
    throw Error(Exit::server, argv[0] + " " + (argv.size() > 1 ? argv[1] + " " : std::string()) + why + " after " +
                                  span_text(timeout) + " and was killed");
  }
  c.exit_code = exit_code(*status);
  return c;
}

std::vector<std::string> environment(const std::vector<std::string>& drop, const std::vector<std::string>& add) {
  std::set<std::string> skip(drop.begin(), drop.end());
  for (const auto& kv : add) skip.insert(kv.substr(0, kv.find('=')));
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv(*e);
    if (!skip.count(kv.substr(0, kv.find('=')))) out.push_back(kv);
  }
  // A name given twice in `add` (the host's NATS_URL, from the runner and from the local
  // boundary) is set once: the later value.
  std::set<std::string> seen;
  const size_t kept = out.size();
  for (auto it = add.rbegin(); it != add.rend(); ++it) {
    if (seen.insert(it->substr(0, it->find('='))).second) out.insert(out.begin() + static_cast<std::ptrdiff_t>(kept), *it);
  }
  return out;
}

void LineReader::feed(const char* data, size_t n) {
  buf_.append(data, n);
  size_t start = 0, nl;
  while ((nl = buf_.find('\n', start)) != std::string::npos) {
    std::string line = buf_.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    on_line_(line);
    start = nl + 1;
  }
  buf_.erase(0, start);
  if (buf_.size() > 64 * 1024) flush();  // a runaway line is logged in pieces, not kept forever
}

void LineReader::flush() {
  if (!buf_.empty()) on_line_(buf_);
  buf_.clear();
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

void reap_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (::waitpid(pid, nullptr, WNOHANG) == 0 && std::chrono::steady_clock::now() < end) ::usleep(1000);
}

void kill_orphans() {
  pid_t reaped;
  int status = 0;
  while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
    note_reaped(reaped, status);  // a worker job's short command (nats-server -t) waits for it
  }
  // The usual stop leaves no child (nats-server and the host reaped): nothing to look for; the
  // scan of /proc cost each stop a few milliseconds of CPU on a busy node.
  if (reaped < 0 && errno == ECHILD) return;
  const std::string me = std::to_string(::getpid());
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(it->path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    const size_t close = line.rfind(')');  // "pid (comm) state ppid ..."; comm may hold spaces
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == me) ::kill(std::stoi(name), SIGKILL);
  }
}

}  // namespace leaf::process
