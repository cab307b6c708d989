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

// The one table of exit codes: `--help` prints it and a test holds the README's table to it.
struct ExitRow {
  const char* code;  // "3", or a range such as "128+N"
  const char* meaning;
};
inline constexpr ExitRow kExitTable[] = {
    {"0", "success (`run`: a clean stop on SIGTERM/SIGINT)"},
    {"1", "invalid credentials (`creds inspect`), not ready (`health`)"},
    {"2", "usage error"},
    {"3", "configuration error (bad TOML or value, unknown key, a file or state_dir that cannot be used, template, "
          "nats-server rejected the config, state_dir in use by another agent)"},
    {"4", "credentials error (missing, malformed, expired, wrong account, not allowed LEAFNODE, or refused by the hub "
          "until ready_timeout)"},
    {"5", "upstream unreachable (DNS, TCP or TLS failed for every URL within ready_timeout)"},
    {"6", "nats-server could not start or exited before ready"},
    {"7", "timeout (not ready within ready_timeout / wait --timeout)"},
    {"70", "internal error"},
    {"HOST", "`run -- CMD`: CMD's own exit code once it ran"},
    {"126", "`run -- CMD`: CMD is not executable"},
    {"127", "`run -- CMD`: CMD was not found"},
    {"128+N", "`run -- CMD`: CMD was killed by signal N"},
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
