// Errors that leave the program: each carries the exit code its category maps to, so that every
// layer can throw a one-line message and main() alone decides how to exit.
#pragma once

#include <stdexcept>
#include <string>

namespace leaf {

// Documented in `leaf-agent --help` and the README. Keep the two in step.
enum class Exit : int {
  ok = 0,
  failure = 1,       // generic: invalid input to `creds inspect`, not ready for `health`
  usage = 2,         // bad command line
  config = 3,        // bad configuration, template or file given in it
  credentials = 4,   // credentials missing, malformed, expired or not fit for a leaf
  upstream = 5,      // no upstream URL reachable (DNS, TCP, TLS)
  server = 6,        // nats-server would not start, or exited
  timeout = 7,       // not ready within ready_timeout / wait --timeout
  internal = 70,     // a bug or an OS failure we did not expect (EX_SOFTWARE)
};

class Error : public std::runtime_error {
 public:
  Error(Exit code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Exit code() const { return code_; }

 private:
  Exit code_;
};

inline Error usage_error(const std::string& m) { return Error(Exit::usage, m); }
inline Error config_error(const std::string& m) { return Error(Exit::config, m); }
inline Error creds_error(const std::string& m) { return Error(Exit::credentials, m); }
inline Error internal_error(const std::string& m) { return Error(Exit::internal, m); }

}  // namespace leaf
