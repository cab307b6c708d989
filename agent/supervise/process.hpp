// Starting children: nats-server (output captured for re-logging) and the wasmCloud host
// (output passed through). Exit handling lives in EventLoop (SIGCHLD).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace leaf::process {

struct Spawned {
  pid_t pid = -1;
  int output_fd = -1;  // read end of the child's stdout+stderr when captured, else -1
};

// fork + exec. `env` is the complete environment ("K=V"). With `capture`, stdout and stderr
// go to one pipe (non-blocking read end returned). The child gets PR_SET_PDEATHSIG(SIGKILL)
// when `die_with_parent`, so a killed agent leaves no nats-server behind.
// Throws Error(Exit::server) when the program cannot be started (reported from the child
// through a CLOEXEC pipe, so "not found" is an error here, not a silent exit 127).
Spawned spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, bool capture,
              bool die_with_parent);

// Runs `argv` to completion (no shell), stdout and stderr together. For short commands such as
// `nats-server --version` and `nats-server -t`. Throws like spawn() when it cannot start.
struct Captured {
  int exit_code = -1;
  std::string output;
};
Captured run_capture(const std::vector<std::string>& argv);

// The current environment minus `drop` (names), plus `add` ("K=V", replacing same names).
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
