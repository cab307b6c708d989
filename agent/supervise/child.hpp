// One supervised process, nats-server or the wasmCloud host (consul-template's `child`): started
// in its own process group (a stop reaches whatever it started), signalled as a group with
// SIGCONT (a stopped child acts on a stop at once), its output read as lines on the loop, reaped
// by the loop's SIGCHLD handler. What to do and when is the supervisor's; this only does it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/supervise/event_loop.hpp"
#include "agent/supervise/process.hpp"

namespace leaf {

class Child {
 public:
  using LineFn = std::function<void(const std::string&)>;

  explicit Child(EventLoop& loop) : loop_(loop) {}
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Starts `argv` with the complete environment `env`; with `on_line`, its stdout+stderr are read
  // as lines on the loop, else they are passed through. 0, or the exec's errno (nothing runs).
  int start(const std::vector<std::string>& argv, const std::vector<std::string>& env, LineFn on_line = nullptr);
  // A process started elsewhere (the pre-warmed nats-server), its output on `output_fd`.
  void adopt(pid_t pid, int output_fd, LineFn on_line);

  bool alive() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // A stop signal to the child's process group, then SIGCONT (not after SIGKILL). False, and
  // nothing sent, once the child has been reaped: its pid may belong to another process by then.
  bool signal(int sig);
  // A signal for the child itself to handle (SIGUSR1/2), not its group.
  bool forward(int sig);
  // The group the child led, after it exited: `sig` to what it left behind there.
  void signal_leftovers(int sig) const;

  // The loop reaped `pid`. Not this child's: nullopt. Else the child is marked gone first (so
  // nothing decided on its last lines signals a reaped pid), then its last output is read and
  // handed to on_line, and its exit code is returned (128+N for a signal).
  std::optional<int> reaped(pid_t pid, int status);

 private:
  void watch_output();
  void read_output();
  void close_output();

  EventLoop& loop_;
  pid_t pid_ = -1;
  pid_t group_ = -1;  // the last child's process group (its pid), kept after it exited
  int output_fd_ = -1;
  std::unique_ptr<process::LineReader> reader_;
};

}  // namespace leaf
