// Starting children: nats-server (output captured for re-logging) and the wasmCloud host
// (output passed through). Exit handling lives in EventLoop (SIGCHLD).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace leaf::process {

struct Spawned {
  pid_t pid = -1;
  int output_fd = -1;  // read end of the child's stdout+stderr when captured, else -1
};

// fork + exec of a child: `env` is its complete environment ("K=V"). Its own process group so
// that a stop reaches whatever it started, and SIGKILL when the agent dies (even by SIGKILL).
// Exec failures are reported from the child through a CLOEXEC pipe, so "not found" is known here.
struct SpawnOptions {
  bool capture = false;            // stdout+stderr into a pipe (Spawned::output_fd)
  bool die_with_parent = true;     // PR_SET_PDEATHSIG(SIGKILL)
  bool own_process_group = false;  // setpgid(0, 0): signal it as a group
};
// Never throws for exec failures: `error_errno` is the child's exec errno
// (ENOENT: 127 as a shell reports it; EACCES/ENOEXEC: 126) and pid is -1.
struct SpawnResult {
  Spawned spawned;
  int error_errno = 0;
};
SpawnResult try_spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const SpawnOptions& o);
// The exit code a shell gives for a command that could not be executed: 127 not found, else 126.
int exec_failure_code(int err);

// Runs `argv` to completion (no shell), stdout and stderr together, for short commands such as
// `nats-server --version` and `nats-server -t`: Error(Exit::server) when it cannot start. Bounded:
// the child (its process group) is killed and Error(Exit::server) thrown when it runs past `timeout`
// or `cancelled()` turns true (checked every 50 ms), whether it is still writing or has closed its
// output and not exited. Output is capped at 64 KiB.
struct Captured {
  int exit_code = -1;
  std::string output;
};
Captured run_capture(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                     const std::function<bool()>& cancelled);

// The agent reaps every child as PID 1 must (waitpid(-1) on the loop thread), which can take
// the exit status of a child another thread is waiting for (`nats-server -t` on the worker).
// The reaper hands statuses of pids it does not own to note_reaped(); run_capture() finds its
// child's status there.
void note_reaped(pid_t pid, int status);

// At the agent's exit: every child still re-parented to it (it is a subreaper), e.g. a daemon
// that left the host's process group, gets SIGKILL. Reaps what has exited first (statuses go to
// note_reaped); without a child left it does not scan /proc.
void kill_orphans();

// waitpid(pid) for at most `limit` (a process just SIGKILLed: not left a zombie).
void reap_within(pid_t pid, std::chrono::milliseconds limit);

// The current environment minus `drop` (names), plus `add` ("K=V", replacing same names; a name
// given twice in `add` is set once, to its later value).
std::vector<std::string> environment(const std::vector<std::string>& drop, const std::vector<std::string>& add);

// Splits a byte stream into lines; call feed() with each read, flush() at EOF.
class LineReader {
 public:
  explicit LineReader(std::function<void(const std::string&)> on_line) : on_line_(std::move(on_line)) {}
  void feed(const char* data, size_t n);
  void flush();

 private:
  std::string buf_;
  std::function<void(const std::string&)> on_line_;
};

// Exit code of a waitpid status: the code, or 128 + signal as shells report it.
int exit_code(int status);

}  // namespace leaf::process
