// What a line of nats-server's output means to the supervisor. Pure: the runner re-logs the line
// at its level and hands the classification to the Supervisor.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace leaf::supervise {

enum class NatsLevel { trace, debug, info, warn, error, fatal };

enum class NatsLineKind {
  other,
  server_ready,      // "Server is ready"
  leaf_connected,    // "Leafnode connection created ..." (the hub has not judged the credentials yet)
  leaf_accepted,     // "... - lid:N - JetStream Not Extended ..." (2.9) / "JetStream using domains ..."
                     // (2.10+): the hub's INFO after CONNECT arrived. A hint to look, not the verdict
  leaf_closed,       // "Leafnode connection closed: ..."
  leaf_error,        // "Leafnode Error ..." (the hub sent -ERR; the connection stays) or a failed connect attempt
  leaf_rejected,     // "Leafnode Error ..." that the hub follows by dropping the connection (minimum
                     // version, loop detected, same cluster name): not accepted, whatever came before
  auth_refused,      // the hub said "Authorization Violation"
  auth_expired,      // the hub said "User/Account Authentication Expired"
  creds_malformed,   // nats-server could not parse the credentials file we wrote
  config_error,      // "nats-server: <file>:<line>:<col>: ...": it refused its config and exits
  server_version,    // "  Version:  2.10.27", the start-up banner: `version` holds "2.10.27"
  reloaded,          // "Reloaded server configuration" (2.15 adds " (sha256:...)"): a reload applied
  reload_failed,     // "Failed to reload server configuration: ...": nothing of the reload applied
};

struct NatsLine {
  NatsLevel level = NatsLevel::info;
  NatsLineKind kind = NatsLineKind::other;
  std::string message;  // without pid, time and level; made one safe line (text::one_line)
  std::string version;  // server_version: the release, as the banner writes it
};

// Parses "[1234] 2026/11/22 16:25:43.117540 [INF] message" (2.9 and later); any other line is
// kept whole at info level.
NatsLine classify_nats_line(std::string_view line);

// How often the runner prints a leaf connection's lines. nats-server logs each connect attempt
// of a leaf the hub refuses, three lines per attempt, every leafnodes.reconnect: 3 a second by
// default, 60 a second with upstream.reconnect = "50ms", for as long as the refusal lasts. Every
// line still reaches the supervisor; a line about a leaf connection ("<addr> - lid:N - ...") whose
// shape (its digits aside) was printed less than `window` ago is counted instead, and the next one
// printed says how many; when none follows, take_due() hands the last one held back, with the
// count, a window after the one printed.
class LineThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit LineThrottle(std::chrono::milliseconds window = std::chrono::seconds(30)) : window_(window) {}

  struct Verdict {
    bool print = true;
    std::uint64_t held_back = 0;  // lines of this shape not printed since it last was
  };
  // `level`: the line's, kept with the last one held back (NatsLevel as int).
  Verdict admit(std::string_view message, TimePoint now, int level = 2);
  void reset() { shapes_.clear(); }  // a new nats-server: its first lines are printed
  std::chrono::milliseconds window() const { return window_; }

  // Lines held back whose shape was last printed a window ago or more: the last of them, its
  // level and their count, each to be printed now (then counted as printed).
  struct Held {
    std::string message;
    int level = 2;
    std::uint64_t count = 0;
  };
  std::vector<Held> take_due(TimePoint now);
  bool holding() const;  // some lines are held back (a take_due() is to follow)

 private:
  struct Seen {
    TimePoint printed_at;
    std::uint64_t held_back = 0;
    std::string last;  // the last one held back
    int level = 2;
  };
  std::chrono::milliseconds window_;
  std::unordered_map<std::string, Seen> shapes_;  // bounded: see admit()
};

}  // namespace leaf::supervise
