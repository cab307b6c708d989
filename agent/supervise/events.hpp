// The supervisor's vocabulary: the events that go in (each with the time it happened), the actions
// that come out, the policy, and the pure schedules (backoff, refresh point). Shared by its three
// machines: lifecycle (supervisor.hpp), readiness (readiness.hpp), refresh (refresh_schedule.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "agent/supervise/nats_log.hpp"

namespace leaf::supervise {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// The supervised children, in stop order: the host stops first, then the leaf it talks through.
enum class ChildId { host = 0, nats = 1 };
constexpr int kChildren = 2;
const char* child_name(ChildId id);

enum class TimerKind {
  ready_deadline,  // agent.ready_timeout since start
  check,           // next readiness check
  restart_nats,    // restart backoff elapsed
  stop_host,       // the host's stop timeout: SIGKILL
  stop_nats,       // nats-server's stop timeout: SIGKILL
  stable,          // ready long enough: the restart backoff starts over
  leaf_down,       // the leaf has been disconnected for agent.leaf_down_restart
  refresh,         // time to fetch fresh credentials (or retry a failed fetch)
  expiry_alarm,    // the credentials in use reach credentials.min_lifetime
  diagnose,        // not ready yet: check the upstream (again) to say why
  rotation,        // a move to rotated credentials by config reload (or toggle) did not complete in time
};

struct Policy {
  Millis ready_timeout{60000};
  Millis stop_timeout{10000};            // per child
  Millis restart_backoff_max{30000};     // restarts wait 0, 1 s, 2 s, 4 s ... up to this
  Millis stable_after{60000};            // ready this long without a crash: backoff starts over
  Millis check_interval_ready{5000};     // while ready
  Millis check_interval_waiting{500};    // while not ready, with no hint that anything changed
  Millis fast_check{5};                  // after a leaf connection's first line: 5, 10, 20 ... ms apart
  int fast_checks = 7;                   // ...for about 640 ms (fast_check_delay)
  Millis interest_check{1};              // after the acceptance line, until the hub's interest shows:
  int interest_checks = 10;              // 1, 2, 4 ... ms apart, for about a second (it is 0 to 2 ms behind)
  Millis connect_check{50};              // built-in template, after a connection's first line: 50, 100 ...
  int connect_checks = 7;                // ms apart (about 6 s), in case no acceptance line comes
  Millis diagnose_retry{1000};           // a failed upstream diagnosis is repeated this often until ready
  bool acceptance_line = false;          // the leaf logs a line at the hub's reply (the built-in template's
                                         // does): checks wait for it rather than poll (a hint, not the verdict)
  Millis leaf_down_restart{0};           // 0: off; else restart nats-server after the leaf is down this long
  bool dev = false;                      // no upstream: the leaf check is always ok
  bool has_host = false;                 // run -- CMD
  bool init_only = false;                // `init`: exit 0 once the bootstrap has written the files
  bool refreshable = false;              // the source can give new credentials (file, http, signer; not env)
  double refresh_fraction = 2.0 / 3.0;   // credentials.refresh_at
  Millis min_lifetime{300000};           // credentials.min_lifetime: below this, alarm
  Millis change_settle{200};             // a changed creds file is read this long after the last change
  enum class Rotate { automatic, toggle, expiry };
  Rotate rotate = Rotate::automatic;     // credentials.rotate (rotation.hpp)
  Millis rotation_timeout{5000};         // a reload's move not begun by then falls back to the expiry
};

// The lifetime of the credentials in use, as read from the JWT, and when that was (wall clock).
struct CredsLife {
  std::int64_t iat = 0, exp = 0;   // unix seconds; exp 0: no expiry
  std::int64_t checked_at = 0;     // unix seconds when they were fetched and checked
  std::string subject;             // U...: for the log line
  std::string origin;              // where they came from, for the log line
};

// ---- events ----
struct Started {};  // the bootstrap runs (fetch, validate, preflight, write) off the loop thread
struct BootstrapDone {
  bool ok = true;
  int code = 0;             // the Exit code when !ok
  std::string error;        // one line when !ok
  std::string identity;     // "user U... of account A...", for refusal messages
  std::optional<CredsLife> creds;  // none in dev mode
  double jitter_draw = 0;   // uniform in [-1, 1]: spreads the first refresh of many agents
  std::string nats_version; // the nats-server release, when the bootstrap asked it ("" if not)
};
struct BootstrapProgress {  // the bootstrap's latest failure (a preflight round failed...): what a timeout reports
  int code = 0;
  std::string error;
};
struct ChildStarted {
  ChildId child;
};
struct ChildExited {
  ChildId child;
  int code = 0;           // exit code, 128+N for a signal, 127/126 when it could not be executed
  std::string error;      // set when it could not be started at all
};
struct LogLine {
  NatsLine line;
};
struct CheckResult {
  long seq = 0;                // the RunCheck's
  bool server_ok = false, healthz_ok = false, leaf_listed = false, client_ok = false;
  bool leaf_accepted = false;  // /leafz shows the hub's interest (its subscriptions): it accepted the leaf
  std::string upstream;        // "ip:port" of the hub end when listed
  std::string failure;         // the first failing check, one line
};
struct TimerFired {
  TimerKind kind;
};
struct SignalReceived {
  int sig = 0;
};
struct CredentialsRefreshed {  // a RunRefresh finished
  bool ok = false;
  std::string error;        // one line when !ok: the credentials in use were kept
  CredsLife creds;          // when ok: written to the creds file, in use from the next leaf connect
  double jitter_draw = 0;   // uniform in [-1, 1]
  bool staged = false;      // written to the other slot with a config naming it: a reload moves the leaf
  bool toggle = false;      // written in place, and a config with the remote disabled is ready: two
                            // reloads move the leaf (SwitchRemote)
};
struct CredentialsSourceChanged {};
// A RunDiagnosis finished: the upstream probed directly (DNS, TCP, TLS verified, NATS INFO).
struct UpstreamDiagnosed {
  bool ok = false;
  std::string error;  // one line when !ok, e.g. "upstream unreachable: TLS: certificate name mismatch ..."
};  // the creds file's directory changed (inotify): look soon
struct Fatal {  // an exception escaped a handler: stop children in order, exit 70
  std::string error;
};
using Event = std::variant<Started, BootstrapDone, BootstrapProgress, ChildStarted, ChildExited, LogLine, CheckResult,
                           TimerFired, SignalReceived, CredentialsRefreshed, CredentialsSourceChanged, UpstreamDiagnosed, Fatal>;

// ---- actions ----
struct RunBootstrap {};
struct CancelBootstrap {};
struct Spawn {
  ChildId child;
  bool again = false;  // a restart: the checked config is written again and the credentials verified first
};
struct SendSignal {
  ChildId child;
  int sig = 0;
  bool leftovers = false;  // to what the child left in its process group after it exited
};
struct Schedule {
  TimerKind kind;
  Millis delay{0};  // replaces a pending timer of the same kind
};
struct CancelTimer {
  TimerKind kind;
};
struct RunCheck {
  long seq = 0;  // numbered as they begin; the result carries it back
};
struct RunRefresh {};
// Probe the upstream URLs directly, beside nats-server's own attempt, to name why the leaf is not
// up yet (answer UpstreamDiagnosed). Only while nats-server has not been ready yet.
struct RunDiagnosis {};  // fetch, check (as at start), write atomically; answer CredentialsRefreshed
struct SetReady {
  bool ready = false;
  std::string why;  // for the log: what became true or false
  bool planned = false;  // not ready for a planned moment (a move to rotated credentials): logged at info
};
struct Log {
  enum Level { info, warn, error } level = info;
  std::string message;
};
// A move by reload is confirmed: the previous slot's credentials file goes.
struct ForgetPreviousCredentials {};
// A move by reload did not happen: the staged credentials go into the slot the running config
// reads, and the config naming it is written back. `keep_staged`: the staged file stays too (the
// server may have taken its path).
struct UnstageCredentials {
  bool keep_staged = false;
};
// A move by toggle: nats.conf written with the leaf's remote disabled (`enabled` false) or as
// checked (true, the config every restart reads). The SIGHUP that makes it count is its own action.
struct SwitchRemote {
  bool enabled = true;
};
struct Exit {
  int code = 0;
  std::string error;  // printed as the agent's last line when set
};
using Action = std::variant<RunBootstrap, CancelBootstrap, Spawn, SendSignal, Schedule, CancelTimer, RunCheck, SetReady,
                            Log, Exit, RunRefresh, RunDiagnosis, ForgetPreviousCredentials, UnstageCredentials,
                            SwitchRemote>;
using Actions = std::vector<Action>;

enum class Phase { bootstrapping, starting, ready, degraded, stopping, exited };
const char* phase_name(Phase p);

// The restart backoff: 0 for the first restart (P5: back fast after one crash), then 1 s doubling
// up to `max`. `restarts_since_stable` counts restarts since the last stable period.
Millis restart_delay(int restarts_since_stable, Millis max);

// When to refresh credentials issued at `iat` that expire at `exp` (unix seconds), counted from
// `now`: at `fraction` of the lifetime, moved by up to 10 % of the lifetime either way by
// `jitter_draw` (in [-1, 1], clamped). Never negative: 0 when that point has passed.
Millis refresh_delay(std::int64_t now, std::int64_t iat, std::int64_t exp, double fraction, double jitter_draw);

// The wait before retry `failures` (1, 2, ...) of a failed refresh: 1 s doubling, at most 60 s.
Millis retry_delay(int failures);

// The wait before fast check `done` (0, 1, ...) after a leaf connection's first line: `first`
// doubling (5, 10, 20 ... ms).
Millis fast_check_delay(Millis first, int done);

}  // namespace leaf::supervise
