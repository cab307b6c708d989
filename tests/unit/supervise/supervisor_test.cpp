// The supervisor's rules, driven with a fake clock: no process, no socket, no sleep.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>

#include "agent/supervise/supervisor.hpp"

using namespace leaf::supervise;
using namespace std::chrono_literals;

namespace {
// Carries out actions the way the runner does, with timers on a fake clock.
struct World {
  explicit World(Policy p = {}) : sup(p) {}
  Supervisor sup;
  TimePoint now{};
  std::map<TimerKind, TimePoint> timers;
  std::vector<ChildId> spawned;
  std::vector<std::pair<ChildId, int>> signals;
  std::vector<std::pair<ChildId, int>> leftover_signals;  // to what an exited child left in its group
  std::vector<bool> spawned_again;                          // Spawn::again, in spawn order
  int forgets = 0;                                           // ForgetPreviousCredentials
  std::vector<bool> unstaged;                                // UnstageCredentials::keep_staged
  // SwitchRemote and signals to nats-server, in order: "disabled", "checked", "HUP", "TERM".
  std::vector<std::string> nats_effects;
  long last_check_seq = 0;
  bool check_outstanding = false;
  int checks = 0, bootstraps = 0, cancels = 0, refreshes = 0, diagnoses = 0;
  std::vector<bool> ready_changes;
  std::optional<Exit> exit;
  std::vector<std::string> logs;

  void feed(const Event& e) {
    if (const auto* r = std::get_if<CheckResult>(&e); r && r->seq == 0) {
      // A result answers a check, as the runner's do: the one outstanding, else one asked for now.
      if (!check_outstanding) feed(TimerFired{TimerKind::check});
      CheckResult numbered = *r;
      numbered.seq = last_check_seq;
      check_outstanding = false;
      for (const auto& a : sup.on(numbered, now)) apply(a);
      return;
    }
    for (const auto& a : sup.on(e, now)) apply(a);
  }
  void apply(const Action& a) {
    if (auto* s = std::get_if<Schedule>(&a)) timers[s->kind] = now + s->delay;
    if (auto* c = std::get_if<CancelTimer>(&a)) timers.erase(c->kind);
    if (auto* s = std::get_if<Spawn>(&a)) spawned.push_back(s->child), spawned_again.push_back(s->again);
    if (auto* s = std::get_if<SendSignal>(&a)) (s->leftovers ? leftover_signals : signals).emplace_back(s->child, s->sig);
    if (auto* c = std::get_if<RunCheck>(&a)) ++checks, last_check_seq = c->seq, check_outstanding = true;
    if (std::get_if<RunRefresh>(&a)) ++refreshes;
    if (std::get_if<ForgetPreviousCredentials>(&a)) ++forgets;
    if (auto* u = std::get_if<UnstageCredentials>(&a)) unstaged.push_back(u->keep_staged);
    if (auto* r = std::get_if<SwitchRemote>(&a)) nats_effects.push_back(r->enabled ? "checked" : "disabled");
    if (auto* s = std::get_if<SendSignal>(&a); s && s->child == ChildId::nats && !s->leftovers) {
      nats_effects.push_back(s->sig == SIGHUP ? "HUP" : s->sig == SIGTERM ? "TERM" : std::to_string(s->sig));
    }
    if (std::get_if<RunDiagnosis>(&a)) ++diagnoses;
    if (std::get_if<RunBootstrap>(&a)) ++bootstraps;
    if (std::get_if<CancelBootstrap>(&a)) ++cancels;
    if (auto* r = std::get_if<SetReady>(&a)) ready_changes.push_back(r->ready);
    if (auto* e = std::get_if<Exit>(&a)) exit = *e;
    if (auto* l = std::get_if<Log>(&a)) logs.push_back(l->message);
  }
  // Moves the clock forward, firing due timers in time order.
  void advance(Millis d) {
    const TimePoint end = now + d;
    for (;;) {
      auto next = timers.end();
      for (auto it = timers.begin(); it != timers.end(); ++it) {
        if (it->second <= end && (next == timers.end() || it->second < next->second)) next = it;
      }
      if (next == timers.end()) break;
      now = next->second;
      const TimerKind k = next->first;
      timers.erase(next);
      feed(TimerFired{k});
    }
    now = end;
  }
  bool pending(TimerKind k) const { return timers.count(k) > 0; }
  // The next `n` check timers' delays, each check answering "no leaf yet".
  std::vector<Millis> check_delays_while_down(int n) {
    std::vector<Millis> delays;
    for (int i = 0; i < n; ++i) {
      const Millis d = due_in(TimerKind::check);
      delays.push_back(d);
      advance(d);
      feed(leaf_down());
    }
    return delays;
  }
  Millis due_in(TimerKind k) const { return std::chrono::duration_cast<Millis>(timers.at(k) - now); }

  CheckResult good() const {
    CheckResult r;
    r.server_ok = r.healthz_ok = r.leaf_listed = r.client_ok = r.leaf_accepted = true;
    r.upstream = "127.0.0.1:7422";
    return r;
  }
  CheckResult leaf_down() const {
    CheckResult r = good();
    r.leaf_listed = r.leaf_accepted = r.client_ok = false;
    r.failure = "no leaf connection to the upstream yet";
    return r;
  }
  // Started -> bootstrap ok -> nats-server up -> a passing check.
  void to_ready() {
    feed(Started{});
    feed(BootstrapDone{true, 0, "", "user U of account A", {}, 0, {}});
    feed(ChildStarted{ChildId::nats});
    feed(good());
  }
  void crash_nats(int code = 137) { feed(ChildExited{ChildId::nats, code, ""}); }
  int spawns_of(ChildId c) const { return static_cast<int>(std::count(spawned.begin(), spawned.end(), c)); }
};

Policy with_host() {
  Policy p;
  p.has_host = true;
  return p;
}
}  // namespace

TEST_CASE("supervisor: restart_delay is 0 first, then 1 s doubling, capped") {
  CHECK(restart_delay(0, 30s) == 0ms);
  CHECK(restart_delay(1, 30s) == 1s);
  CHECK(restart_delay(2, 30s) == 2s);
  CHECK(restart_delay(3, 30s) == 4s);
  CHECK(restart_delay(5, 30s) == 16s);
  CHECK(restart_delay(6, 30s) == 30s);
  CHECK(restart_delay(60, 30s) == 30s);
}

TEST_CASE("supervisor: the bootstrap runs first, then nats-server, ready only after a passing check") {
  World w;
  w.feed(Started{});
  CHECK(w.bootstraps == 1);
  CHECK(w.pending(TimerKind::ready_deadline));
  CHECK(w.spawned.empty());
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  REQUIRE(w.spawned == std::vector<ChildId>{ChildId::nats});
  w.feed(ChildStarted{ChildId::nats});
  CHECK(w.sup.phase() == Phase::starting);
  CHECK(w.pending(TimerKind::check));
  w.advance(200ms);
  CHECK(w.checks == 1);
  w.feed(w.good());
  CHECK(w.sup.ready());
  CHECK(w.ready_changes == std::vector<bool>{true});
  CHECK_FALSE(w.pending(TimerKind::ready_deadline));  // cancelled once ready
  CHECK(w.due_in(TimerKind::check) == 5s);            // while ready, a check every 5 s
}

TEST_CASE("supervisor: a listed leaf counts only with the hub's interest, however long it is listed") {
  // Any template (this World's policy is a user template's): no settle time, no log line decides.
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  CheckResult listed = w.good();
  listed.leaf_accepted = false;  // listed, no subscriptions from the hub (yet)
  for (int i = 0; i < 20; ++i) {
    w.feed(listed);
    w.advance(500ms);
  }
  CHECK_FALSE(w.sup.ready());
  CHECK(w.sup.last_check().failure == "leaf connection to 127.0.0.1:7422 not accepted by the hub yet");
  w.feed(w.good());  // the interest arrived
  CHECK(w.sup.ready());
}

TEST_CASE("supervisor: the host starts once, when first ready, readiness drops and comes back") {
  World w(with_host());
  w.to_ready();
  CHECK(w.spawns_of(ChildId::host) == 1);
  w.feed(ChildStarted{ChildId::host});
  w.advance(5s);
  w.feed(w.leaf_down());
  CHECK_FALSE(w.sup.ready());
  CHECK(w.sup.phase() == Phase::degraded);
  w.advance(500ms);
  w.feed(w.good());
  CHECK(w.sup.ready());
  CHECK(w.ready_changes == std::vector<bool>{true, false, true});
  CHECK(w.spawns_of(ChildId::host) == 1);  // never a second host
}

TEST_CASE("supervisor: a log line about the leaf triggers a check at once, then fast ones") {
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  w.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:1 - Leafnode connection created for account: $G")});
  CHECK(w.checks == 1);
  // A second hint while a check is in flight runs one more check right after, not two at once.
  w.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] Server is ready")});
  CHECK(w.checks == 1);
  w.feed(w.leaf_down());
  CHECK(w.checks == 2);
  w.feed(w.leaf_down());
  CHECK(w.due_in(TimerKind::check) == 5ms);
  // Then at doubling intervals, a few times, and back to the waiting interval.
  CHECK(w.check_delays_while_down(10) == std::vector<Millis>{5ms, 10ms, 20ms, 40ms, 80ms, 160ms, 320ms, 500ms, 500ms, 500ms});

  // A leaf that logs the hub's acceptance (the built-in template's) needs no check at the
  // connection's first line: during the TLS handshake nothing could be seen. Its first check is
  // 50 ms later, in case no acceptance line comes (a release whose wording the agent does not
  // know); the line, a few ms after, replaces it with the fast ones.
  Policy logs;
  logs.acceptance_line = true;
  World quiet(logs);
  quiet.feed(Started{});
  quiet.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  quiet.feed(ChildStarted{ChildId::nats});
  quiet.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:1 - Leafnode connection created for account: $G")});
  CHECK(quiet.checks == 0);
  CHECK(quiet.due_in(TimerKind::check) == 50ms);
  // Then, as before the connection, as far apart as the ready ones: the lines bring the checks.
  CHECK(quiet.check_delays_while_down(8) == std::vector<Millis>{50ms, 100ms, 200ms, 400ms, 800ms, 1600ms, 3200ms, 5000ms});
  quiet.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:1 - Leafnode connection closed: Client Closed account: $G")});
  quiet.feed(quiet.leaf_down());
  CHECK(quiet.due_in(TimerKind::check) == 5000ms);
  // A user template's leaf may log no acceptance: it keeps looking every 500 ms.
  World user;
  user.feed(Started{});
  user.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  user.feed(ChildStarted{ChildId::nats});
  user.feed(user.leaf_down());
  CHECK(user.due_in(TimerKind::check) == 500ms);
}

TEST_CASE("supervisor: fast_check_delay doubles from the first") {
  CHECK(fast_check_delay(5ms, 0) == 5ms);
  CHECK(fast_check_delay(5ms, 3) == 40ms);
  CHECK(fast_check_delay(5ms, 6) == 320ms);
  CHECK(fast_check_delay(5ms, 1000) == fast_check_delay(5ms, 20));  // bounded, no overflow
}

TEST_CASE("supervisor: the leaf's own line that the hub accepted it brings a check, and decides nothing") {
  const auto accepted = classify_nats_line(
      "[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:4 - JetStream Not Extended, adding deny [$JS.API.> $KV.> $OBJ.>] for account \"$G\"");
  REQUIRE(accepted.kind == NatsLineKind::leaf_accepted);
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  CheckResult listed = w.good();
  listed.leaf_accepted = false;  // no hub interest seen on /leafz yet
  w.feed(listed);
  CHECK_FALSE(w.sup.ready());
  const int before = w.checks;
  w.feed(LogLine{accepted});
  CHECK(w.checks == before + 1);  // looked at once
  w.feed(listed);
  CHECK_FALSE(w.sup.ready());     // the line alone is not the hub's verdict
  w.feed(w.good());
  CHECK(w.sup.ready());

  // After a close, what /leafz shows is the closed connection's until the next one's first line.
  w.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:4 - Leafnode connection closed: Client Closed")});
  w.feed(w.leaf_down());
  CHECK_FALSE(w.sup.ready());
  CHECK(w.due_in(TimerKind::check) == 500ms);  // no burst of checks while the leaf reconnects
  w.advance(5ms);
  w.feed(w.good());
  CHECK_FALSE(w.sup.ready());

  // A local client cannot fake it: its name shows up quoted in other lines, never as a lid line.
  CHECK(classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:5000 - cid:9 - \"x - lid:1 - JetStream Not Extended\" - User connected")
            .kind == NatsLineKind::other);
  CHECK(classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid: - JetStream Not Extended").kind ==
        NatsLineKind::other);
}

namespace {
LogLine leaf_line(const std::string& what) {
  return LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:4 - " + what)};
}
const LogLine kCreated = leaf_line("Leafnode connection created for account: $G ");
const LogLine kAccepted = leaf_line("JetStream Not Extended, adding deny [$JS.API.> $KV.> $OBJ.>] for account \"$G\"");
const LogLine kClosed = leaf_line("Leafnode connection closed: Client Closed account: $G");

// The built-in template's leaf: it logs every acceptance.
Policy builtin() {
  Policy p;
  p.acceptance_line = true;
  return p;
}
void start(World& w) {
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
}
// Before the hub's verdict nats-server does not list the connection; /healthz and the local
// client already answer.
CheckResult judging() {
  CheckResult r = World().good();
  r.leaf_listed = r.leaf_accepted = false;
  r.upstream.clear();
  r.failure = "no leaf connection to the upstream yet";
  return r;
}
// A built-in template's start up to the acceptance line (a check of the connection has answered,
// the one the line asks for is in flight)...
void start_to_acceptance(World& w) {
  start(w);
  w.feed(kCreated);
  w.feed(judging());
  w.feed(kAccepted);
}
// ...and to ready: that check sees the hub's interest.
void start_to_ready(World& w) {
  start_to_acceptance(w);
  w.feed(w.good());
}
}  // namespace

TEST_CASE("supervisor: with the built-in template the acceptance line and then the hub's interest make ready") {
  REQUIRE(kCreated.line.kind == NatsLineKind::leaf_connected);
  REQUIRE(kAccepted.line.kind == NatsLineKind::leaf_accepted);
  REQUIRE(kClosed.line.kind == NatsLineKind::leaf_closed);
  World w(builtin());
  start(w);
  w.feed(kCreated);
  CHECK(w.checks == 0);  // not during the TLS handshake: the acceptance line brings the checks
  w.feed(judging());     // a check before the hub's verdict
  CHECK_FALSE(w.sup.ready());
  w.feed(kAccepted);
  CHECK(w.checks == 2);  // looked at once
  CheckResult no_interest = w.good();
  no_interest.leaf_accepted = false;
  w.feed(no_interest);   // listed, but the hub's subscriptions have not arrived yet
  CHECK_FALSE(w.sup.ready());
  CHECK(w.due_in(TimerKind::check) == 1ms);  // looks again soon: the interest is about a millisecond behind
  w.advance(1ms);
  w.feed(no_interest);
  CHECK(w.due_in(TimerKind::check) == 2ms);  // and again, doubling
  w.advance(2ms);
  w.feed(w.good());
  CHECK(w.sup.ready());
  CHECK(w.sup.upstream_in_use() == "127.0.0.1:7422");

  // The closed line drops readiness itself, before any check: nats-server writes it before it
  // takes the connection off /leafz, so a check may still see the connection listed.
  w.feed(kClosed);
  CHECK_FALSE(w.sup.ready());
  w.feed(w.good());
  CHECK_FALSE(w.sup.ready());

  // The next connection: a check begun before its first line does not count (what it saw was
  // the closed connection's)...
  w.feed(TimerFired{TimerKind::check});  // a check begins
  w.feed(kCreated);      // while it is in flight
  w.feed(w.good());      // its answer
  CHECK_FALSE(w.sup.ready());
  w.feed(w.good());      // ...one begun after it does, with or without an acceptance line
  CHECK(w.sup.ready());
}

TEST_CASE("supervisor: with the built-in template the hub's interest on /leafz decides, whatever the release logs") {
  // 2.10 to 2.15 word the acceptance "JetStream using domains"; a release the agent does not know
  // may write nothing it recognises: the checks after the connection's first line find the verdict.
  World w(builtin());
  start(w);
  w.feed(kCreated);
  w.advance(50ms);  // the first check after the connection's first line
  CheckResult listed_no_interest = w.good();
  listed_no_interest.leaf_accepted = false;
  w.feed(listed_no_interest);  // listed, no interest: the hub has not accepted it (min_version)
  CHECK_FALSE(w.sup.ready());
  CHECK(w.due_in(TimerKind::check) == 100ms);
  w.advance(100ms);
  w.feed(w.good());
  CHECK(w.sup.ready());
  // The 2.10+ wording is a hint like 2.9's: it asks for a check at once.
  World v210(builtin());
  start(v210);
  v210.feed(kCreated);
  const int before = v210.checks;
  v210.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] 127.0.0.1:7422 - lid:1 - JetStream using domains: local \"\", remote \"hub\"")});
  CHECK(v210.checks == before + 1);
  v210.feed(v210.good());
  CHECK(v210.sup.ready());
}

TEST_CASE("supervisor: after the acceptance line the checks look for the hub's interest at 1, 2, 4 ... ms, for about a second") {
  World w(builtin());
  start_to_acceptance(w);
  CheckResult no_interest = w.good();
  no_interest.leaf_accepted = false;
  std::vector<Millis> delays;
  for (int i = 0; i < 12; ++i) {
    w.feed(no_interest);
    const Millis d = w.due_in(TimerKind::check);
    delays.push_back(d);
    w.advance(d);
  }
  CHECK(delays == std::vector<Millis>{1ms, 2ms, 4ms, 8ms, 16ms, 32ms, 64ms, 128ms, 256ms, 512ms, 500ms, 500ms});
  CHECK_FALSE(w.sup.ready());
}

TEST_CASE("supervisor: an acceptance line does not count without the hub's interest, a working client, or past a refusal") {
  // A check that saw the local client failing.
  World mute(builtin());
  start_to_acceptance(mute);
  CheckResult no_client = mute.good();
  no_client.client_ok = false;
  mute.feed(no_client);
  CHECK_FALSE(mute.sup.ready());

  // A hub that sends its INFO and then refuses (leafnodes.min_version: -ERR, then it holds the
  // connection listed for 5 s before closing it), whatever the order the agent reads it in.
  World refused(builtin());
  start_to_acceptance(refused);
  CheckResult listed_only = refused.good();
  listed_only.leaf_accepted = false;  // no subscriptions from the hub, no RTT
  refused.feed(listed_only);
  CHECK_FALSE(refused.sup.ready());
  refused.feed(LogLine{classify_nats_line(
      "[1] 2026/01/01 00:00:00.000000 [ERR] 127.0.0.1:7422 - lid:4 - Leafnode Error 'connection rejected since minimum version required is \"2.10.0\"'")});
  // No fast checks on a connection the hub rejected: they looked for an acceptance that will not come.
  refused.feed(listed_only);  // the check the rejection asked for
  CHECK(refused.due_in(TimerKind::check) >= 500ms);
  for (int i = 0; i < 10; ++i) {  // listed for 5 s: no settle time makes it count
    refused.advance(500ms);
    refused.feed(refused.good());
  }
  CHECK(refused.ready_changes.empty());

  // A check of a previous nats-server, answering late.
  World restarted(builtin());
  start_to_ready(restarted);
  REQUIRE(restarted.sup.ready());
  restarted.advance(5s);  // a periodic check begins...
  const long old_check = restarted.last_check_seq;
  restarted.feed(ChildExited{ChildId::nats, 137, ""});  // ...and its server dies
  restarted.advance(10ms);  // the first restart does not wait
  REQUIRE(restarted.spawns_of(ChildId::nats) == 2);  // the first start, and the restart
  restarted.feed(ChildStarted{ChildId::nats});
  restarted.feed(kCreated);
  restarted.feed(judging());  // a check of the new server
  restarted.feed(kAccepted);  // and another
  CheckResult stale = restarted.good();
  stale.seq = old_check;      // the dead server's answer
  restarted.feed(stale);
  CHECK_FALSE(restarted.sup.ready());
  restarted.feed(restarted.good());  // the new server's
  CHECK(restarted.sup.ready());

  // A check begun before the connection closed, answering after the next one's lines.
  World slow(builtin());
  start_to_ready(slow);
  REQUIRE(slow.sup.ready());
  slow.advance(5s);  // a periodic check begins, and takes long
  slow.feed(kClosed);
  slow.feed(kCreated);
  slow.feed(kAccepted);
  slow.feed(slow.good());  // its answer: about the closed connection
  CHECK_FALSE(slow.sup.ready());
  slow.feed(slow.good());  // the check the lines asked for
  CHECK(slow.sup.ready());

  // A user template's leaf that logs the line: the line brings a check, the check decides (the
  // one in flight saw nothing yet; the one the line asked for sees the hub's interest).
  World user;
  start(user);
  user.feed(kCreated);
  user.feed(kAccepted);     // while the connection's first check is in flight
  user.feed(judging());     // begun before the line: not listed yet
  CHECK_FALSE(user.sup.ready());
  CHECK(user.check_outstanding);  // the line's check, right after
  user.feed(user.good());
  CHECK(user.sup.ready());
}

TEST_CASE("supervisor: the late answer of a check of a nats-server that has since exited is dropped") {
  Policy p;
  p.dev = true;  // no leaf lines to go by: only the numbering tells
  World w(p);
  start(w);
  w.feed(w.good());
  REQUIRE(w.sup.ready());
  w.advance(5s);  // a periodic check begins...
  const long old_check = w.last_check_seq;
  w.feed(ChildExited{ChildId::nats, 137, ""});  // ...and its server dies
  w.advance(10ms);
  w.feed(ChildStarted{ChildId::nats});
  CheckResult stale = w.good();
  stale.seq = old_check;
  w.feed(stale);  // before any check of the new server has begun
  CHECK_FALSE(w.sup.ready());
  w.advance(200ms);  // the new server's first check
  w.feed(w.good());
  CHECK(w.sup.ready());
}

TEST_CASE("supervisor: the hub's refusals drop readiness at once but an -ERR that leaves the connection up does not") {
  const auto ready_world = [] {
    auto w = std::make_unique<World>(builtin());
    start_to_ready(*w);
    return w;
  };
  const auto err = [](const std::string& what) {
    return LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [ERR] 127.0.0.1:7422 - lid:4 - Leafnode Error '" + what + "'")};
  };
  // A permissions violation or a subscription limit: the hub keeps the connection.
  for (const char* what : {"Permissions Violation for Publish to \"x\"", "maximum subscriptions exceeded"}) {
    auto w = ready_world();
    REQUIRE(w->sup.ready());
    w->feed(err(what));
    CHECK(w->sup.ready());
    w->advance(5s);
    w->feed(w->good());
    CHECK(w->sup.ready());
  }
  // Refused credentials: not ready before any check, and /readyz says why.
  auto refused = ready_world();
  refused->feed(err("Authorization Violation"));
  CHECK_FALSE(refused->sup.ready());
  CHECK(refused->sup.last_check().failure.find("refused the leaf credentials") != std::string::npos);
  // A rejection the hub follows with a close: a listing with RTT meanwhile does not bring it back.
  auto rejected = ready_world();
  rejected->feed(err("connection rejected since minimum version required is \"2.10.0\""));
  CHECK_FALSE(rejected->sup.ready());
  rejected->advance(5s);
  rejected->feed(rejected->good());
  CHECK_FALSE(rejected->sup.ready());
  CHECK(rejected->sup.last_check().failure.find("rejected the leaf connection") != std::string::npos);
  rejected->feed(kClosed);  // the hub closes it: the rejection is still the reason a timeout names
  rejected->feed(rejected->good());
  CHECK_FALSE(rejected->sup.ready());
  CHECK(rejected->sup.last_check().failure.find("minimum version required") != std::string::npos);
}

TEST_CASE("supervisor: the upstream is diagnosed only when the leaf does not come up, and names the timeout") {
  Policy p;
  p.ready_timeout = 20s;
  const auto leaf_error = classify_nats_line(
      "[1] 2026/01/01 00:00:00.000000 [ERR] Error trying to connect as leafnode to remote server 127.0.0.1:7422 (attempt 1): dial tcp 127.0.0.1:7422: connect: connection refused");
  World healthy(p);  // a start that goes well probes nothing
  healthy.feed(Started{});
  healthy.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  healthy.feed(ChildStarted{ChildId::nats});
  healthy.feed(healthy.good());
  CHECK(healthy.sup.ready());
  CHECK_FALSE(healthy.pending(TimerKind::diagnose));
  healthy.feed(LogLine{leaf_error});  // after ready: the hub going away is not a start problem
  CHECK(healthy.diagnoses == 0);

  World w(p);
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  CHECK(w.due_in(TimerKind::diagnose) == 10s);  // the fallback: half of ready_timeout
  w.feed(LogLine{leaf_error});
  CHECK(w.diagnoses == 1);
  w.feed(LogLine{leaf_error});  // one at a time
  CHECK(w.diagnoses == 1);
  w.feed(UpstreamDiagnosed{false, "upstream unreachable: TCP: connection refused 127.0.0.1:7422"});
  CHECK(w.logs.back().find("upstream unreachable: TCP: connection refused 127.0.0.1:7422; retrying") == 0);
  CHECK(w.due_in(TimerKind::diagnose) == 1s);
  w.advance(1s);
  CHECK(w.diagnoses == 2);
  const size_t logs = w.logs.size();
  w.feed(UpstreamDiagnosed{false, "upstream unreachable: TCP: connection refused 127.0.0.1:7422"});
  CHECK(w.logs.size() == logs);  // the same finding is not logged again
  w.feed(w.leaf_down());
  w.advance(20s);
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 5);
  CHECK(w.exit->error == "upstream unreachable: TCP: connection refused 127.0.0.1:7422");

  World fine(p);  // reachable, just not accepted in time: the plain timeout
  fine.feed(Started{});
  fine.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  fine.feed(ChildStarted{ChildId::nats});
  fine.feed(fine.leaf_down());
  fine.advance(10s);
  CHECK(fine.diagnoses == 1);
  fine.feed(UpstreamDiagnosed{true, ""});
  CHECK_FALSE(fine.pending(TimerKind::diagnose));
  fine.advance(10s);
  fine.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(fine.exit);
  CHECK(fine.exit->code == 7);

  World dev([] { Policy d; d.dev = true; return d; }());  // no upstream, nothing to diagnose
  dev.feed(Started{});
  dev.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  dev.feed(ChildStarted{ChildId::nats});
  CHECK_FALSE(dev.pending(TimerKind::diagnose));
}

TEST_CASE("supervisor: restart backoff grows, caps, and resets only after a stable period") {
  Policy p;
  p.restart_backoff_max = 4s;
  p.stable_after = 60s;
  World w(p);
  w.to_ready();
  std::vector<Millis> delays;
  for (int i = 0; i < 5; ++i) {
    w.crash_nats();
    CHECK_FALSE(w.sup.ready());
    delays.push_back(w.due_in(TimerKind::restart_nats));
    w.advance(delays.back());
    w.feed(ChildStarted{ChildId::nats});
    w.feed(w.good());  // ready again at once: that alone does not reset the backoff
    CHECK(w.sup.ready());
    w.advance(1s);
  }
  CHECK(delays == std::vector<Millis>{0ms, 1s, 2s, 4s, 4s});
  CHECK(w.sup.nats_restarts() == 5);
  w.advance(60s);  // stable: the backoff starts over
  w.crash_nats();
  CHECK(w.due_in(TimerKind::restart_nats) == 0ms);
  CHECK(w.spawns_of(ChildId::nats) == 6);
  w.advance(0ms);
  CHECK(w.spawns_of(ChildId::nats) == 7);
}

TEST_CASE("supervisor: stop order is host first, then nats-server, the host's code is the agent's") {
  World w(with_host());
  w.to_ready();
  w.feed(ChildStarted{ChildId::host});
  w.feed(SignalReceived{SIGTERM});
  CHECK_FALSE(w.sup.ready());
  REQUIRE(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::host, SIGTERM}});
  CHECK(w.pending(TimerKind::stop_host));
  w.feed(SignalReceived{SIGTERM});  // a second TERM does not resend or reorder
  CHECK(w.signals.size() == 1);
  w.feed(ChildExited{ChildId::host, 0, ""});
  REQUIRE(w.signals.size() == 2);
  CHECK(w.signals[1] == std::make_pair(ChildId::nats, SIGTERM));
  CHECK_FALSE(w.exit);
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 0);
  CHECK(w.sup.phase() == Phase::exited);
  CHECK(w.spawns_of(ChildId::nats) == 1);  // no restart while stopping
}

TEST_CASE("supervisor: a child that ignores SIGTERM gets SIGKILL after the stop timeout") {
  Policy p = with_host();
  p.stop_timeout = 10s;
  World w(p);
  w.to_ready();
  w.feed(ChildStarted{ChildId::host});
  w.feed(SignalReceived{SIGTERM});
  w.advance(9s);
  CHECK(w.signals.size() == 1);
  w.advance(1s);
  REQUIRE(w.signals.size() == 2);
  CHECK(w.signals[1] == std::make_pair(ChildId::host, SIGKILL));
  w.feed(ChildExited{ChildId::host, 137, ""});
  CHECK(w.signals[2] == std::make_pair(ChildId::nats, SIGTERM));
  w.advance(10s);
  CHECK(w.signals[3] == std::make_pair(ChildId::nats, SIGKILL));
  w.feed(ChildExited{ChildId::nats, 137, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 137);  // what the host's death says, as a shell reports it
}

TEST_CASE("supervisor: the host exiting on its own ends the agent with its code, leaf last") {
  World w(with_host());
  w.to_ready();
  w.feed(ChildStarted{ChildId::host});
  w.feed(ChildExited{ChildId::host, 3, ""});
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGTERM}});
  // What the host left in its process group is the supervisor's to stop too, not the runner's.
  CHECK(w.leftover_signals == std::vector<std::pair<ChildId, int>>{{ChildId::host, SIGTERM}});
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 3);

  World missing(with_host());
  missing.to_ready();
  missing.feed(ChildExited{ChildId::host, 127, "cannot start host `nope`: No such file or directory"});
  missing.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(missing.exit);
  CHECK(missing.exit->code == 127);
}

TEST_CASE("supervisor: nats-server exiting before ready is exit 6 with its last words") {
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  w.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [FTL] Error listening on port: 127.0.0.1:4222, \"address already in use\"")});
  w.feed(ChildExited{ChildId::nats, 1, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 6);
  CHECK(w.exit->error.find("before ready: Error listening on port") != std::string::npos);

  World cannot;
  cannot.feed(Started{});
  cannot.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  cannot.feed(ChildExited{ChildId::nats, 127, "cannot start nats-server nope: No such file or directory"});
  REQUIRE(cannot.exit);
  CHECK(cannot.exit->code == 6);
}

TEST_CASE("supervisor: nats-server refusing its config before ready is exit 3 with its words and a hint") {
  const auto line = classify_nats_line("nats-server: /s/nats.conf:2:59: error parsing tls config, unknown field [\"server_name\"]");
  REQUIRE(line.kind == NatsLineKind::config_error);
  CHECK(classify_nats_line("[1] 2026/01/01 00:00:00.000000 [INF] nats-server: not a config error").kind == NatsLineKind::other);
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  w.feed(LogLine{line});
  w.feed(ChildExited{ChildId::nats, 1, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 3);
  CHECK(w.exit->error == "nats-server rejected the rendered config: /s/nats.conf:2:59: error parsing tls config, unknown field "
                         "[\"server_name\"]; the installed nats-server is too old for an option in this config");

  World silent;  // not a nats-server at all
  silent.feed(Started{});
  silent.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  silent.feed(ChildStarted{ChildId::nats});
  silent.feed(ChildExited{ChildId::nats, 1, ""});
  REQUIRE(silent.exit);
  CHECK(silent.exit->code == 6);
  CHECK(silent.exit->error == "nats-server exited with code 1 before ready and said nothing; is agent.nats_server a nats-server binary?");
}

TEST_CASE("supervisor: ready_timeout: 7 with the failing check, 4 when the hub refused, the bootstrap's own failure") {
  Policy p;
  p.ready_timeout = 20s;
  World w(p);
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  w.feed(w.leaf_down());
  w.advance(20s);
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGTERM}});
  CHECK_FALSE(w.exit);  // not before nats-server has gone
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 7);
  CHECK(w.exit->error.find("not ready within agent.ready_timeout (20 s): no leaf connection") == 0);

  World refused(p);
  refused.feed(Started{});
  refused.feed(BootstrapDone{true, 0, "", "user UX of account AX", {}, 0, {}});
  refused.feed(ChildStarted{ChildId::nats});
  refused.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [ERR] 127.0.0.1:7422 - lid:1 - Leafnode Error 'Authorization Violation'")});
  refused.advance(20s);
  refused.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(refused.exit);
  CHECK(refused.exit->code == 4);
  CHECK(refused.exit->error.find("refused the leaf credentials (Authorization Violation) for user UX of account AX") !=
        std::string::npos);

  World stuck(p);  // still in preflight when time runs out: its last failure, its code
  stuck.feed(Started{});
  stuck.feed(BootstrapProgress{5, "upstream unreachable: TCP: connection refused 127.0.0.1:1"});
  stuck.advance(20s);
  REQUIRE(stuck.exit);
  CHECK(stuck.exit->code == 5);
  CHECK(stuck.cancels == 1);
  CHECK(stuck.spawned.empty());
}

TEST_CASE("supervisor: SIGTERM during the bootstrap cancels it and exits at once") {
  World w;
  w.feed(Started{});
  w.feed(SignalReceived{SIGTERM});
  CHECK(w.cancels == 1);
  REQUIRE(w.exit);
  CHECK(w.exit->code == 0);
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});  // finishing late changes nothing
  CHECK(w.spawned.empty());
}

TEST_CASE("supervisor: a bootstrap failure exits with its code and starts nothing") {
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{false, 4, "credentials expired", "", {}, 0, {}});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 4);
  CHECK(w.spawned.empty());
}

TEST_CASE("supervisor: credentials nats-server cannot read are a credentials error (exit 4)") {
  World w;
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  w.feed(ChildStarted{ChildId::nats});
  w.feed(LogLine{classify_nats_line("[1] 2026/01/01 00:00:00.000000 [ERR] 127.0.0.1:7422 - lid:1 - Credentials file malformed")});
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGTERM}});
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 4);
}

TEST_CASE("supervisor: an internal error stops the children in order and exits 70") {
  World w(with_host());
  w.to_ready();
  w.feed(ChildStarted{ChildId::host});
  w.feed(Fatal{"boom"});
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::host, SIGTERM}});
  w.feed(ChildExited{ChildId::host, 143, ""});
  w.feed(ChildExited{ChildId::nats, 0, ""});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 70);  // the first failure wins over the host's code
}

TEST_CASE("supervisor: SIGUSR1/SIGUSR2 go to the host, SIGHUP is the agent's") {
  World w(with_host());
  w.to_ready();
  w.feed(ChildStarted{ChildId::host});
  w.feed(SignalReceived{SIGUSR1});
  w.feed(SignalReceived{SIGUSR2});
  w.feed(SignalReceived{SIGHUP});
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::host, SIGUSR1}, {ChildId::host, SIGUSR2}});
  CHECK_FALSE(w.exit);
}

TEST_CASE("supervisor: init exits 0 once the bootstrap has written the files") {
  Policy p;
  p.init_only = true;
  World w(p);
  w.feed(Started{});
  w.feed(BootstrapDone{true, 0, "", "", {}, 0, {}});
  REQUIRE(w.exit);
  CHECK(w.exit->code == 0);
  CHECK(w.spawned.empty());

  World stopped(p);  // interrupted: never the 0 that means "files written"
  stopped.feed(Started{});
  stopped.feed(SignalReceived{SIGTERM});
  REQUIRE(stopped.exit);
  CHECK(stopped.exit->code == 128 + SIGTERM);
  CHECK(stopped.cancels == 1);
}

TEST_CASE("supervisor: a leaf down for leaf_down_restart gets nats-server restarted at once") {
  Policy p;
  p.leaf_down_restart = 120s;
  World w(p);
  w.to_ready();
  w.advance(5s);
  w.feed(w.leaf_down());
  w.advance(119s);
  CHECK(w.signals.empty());
  w.advance(1s);
  REQUIRE(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGTERM}});
  CHECK(w.pending(TimerKind::stop_nats));  // a hung (or SIGSTOPped) server is killed after stop_timeout
  w.advance(10s);
  CHECK(w.signals.back() == std::make_pair(ChildId::nats, SIGKILL));
  w.crash_nats(137);
  CHECK(w.due_in(TimerKind::restart_nats) == 0ms);
  CHECK_FALSE(w.exit);
}

// ---- credential rotation ----
namespace {
constexpr std::int64_t kT0 = 1'800'000'000;  // wall clock at the bootstrap (unix seconds)

CredsLife life(std::int64_t iat, std::int64_t exp, std::int64_t checked_at, std::string sub = "U1") {
  CredsLife c;
  c.iat = iat, c.exp = exp, c.checked_at = checked_at, c.subject = std::move(sub), c.origin = "signer";
  return c;
}

Policy rotating(Millis min_lifetime = 2s) {
  Policy p;
  p.refreshable = true;
  p.min_lifetime = min_lifetime;
  return p;
}

// Ready with credentials issued at kT0 that live `ttl` seconds.
void ready_with(World& w, std::int64_t ttl, double jitter = 0) {
  w.feed(Started{});
  BootstrapDone b{true, 0, "", "user U1 of account A", {}, 0, {}};
  b.creds = life(kT0, kT0 + ttl, kT0);
  b.jitter_draw = jitter;
  w.feed(b);
  w.feed(ChildStarted{ChildId::nats});
  w.feed(w.good());
}

std::int64_t wall(const World& w) {  // the fake wall clock: kT0 at the fake steady clock's zero
  return kT0 + std::chrono::duration_cast<std::chrono::seconds>(w.now.time_since_epoch()).count();
}

bool logged(const World& w, const std::string& part) {
  return std::any_of(w.logs.begin(), w.logs.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
}
}  // namespace

TEST_CASE("refresh: refresh_delay is the fraction of the lifetime, jitter within 10 %, never negative") {
  CHECK(refresh_delay(kT0, kT0, kT0 + 3600, 2.0 / 3.0, 0) == 2400s);
  CHECK(refresh_delay(kT0 + 600, kT0, kT0 + 3600, 2.0 / 3.0, 0) == 1800s);  // counted from now
  CHECK(refresh_delay(kT0, kT0, kT0 + 3600, 2.0 / 3.0, 1) == 2400s + 360s);
  CHECK(refresh_delay(kT0, kT0, kT0 + 3600, 2.0 / 3.0, -1) == 2400s - 360s);
  CHECK(refresh_delay(kT0, kT0, kT0 + 3600, 2.0 / 3.0, 7) == 2400s + 360s);  // the draw is clamped
  CHECK(refresh_delay(kT0, kT0, kT0 + 20, 0.5, 0) == 10s);
  CHECK(refresh_delay(kT0 + 50, kT0, kT0 + 20, 2.0 / 3.0, 0) == 0ms);         // past: now
  for (double draw = -1; draw <= 1.0; draw += 0.125) {
    const Millis d = refresh_delay(kT0, kT0, kT0 + 20, 2.0 / 3.0, draw);
    CHECK(d >= 11333ms);
    CHECK(d <= 15334ms);
  }
}

TEST_CASE("refresh: retry_delay is 1 s doubling to 60 s") {
  CHECK(retry_delay(1) == 1s);
  CHECK(retry_delay(2) == 2s);
  CHECK(retry_delay(3) == 4s);
  CHECK(retry_delay(6) == 32s);
  CHECK(retry_delay(7) == 60s);
  CHECK(retry_delay(100) == 60s);
}

TEST_CASE("refresh: scheduled at two thirds with the jitter drawn, then again from the new credentials") {
  World w(rotating());
  ready_with(w, 30, 0.5);                       // 20 s + 0.5 * 3 s
  REQUIRE(w.pending(TimerKind::refresh));
  CHECK(w.due_in(TimerKind::refresh) == 21500ms);
  CHECK(w.due_in(TimerKind::expiry_alarm) == 28s);  // 30 s - min_lifetime 2 s
  w.advance(21499ms);
  CHECK(w.refreshes == 0);
  w.advance(1ms);
  CHECK(w.refreshes == 1);
  CHECK(w.sup.refresh().in_flight);
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 30, wall(w), "U2"), 0});
  CHECK(w.sup.refresh().ok_count == 1);
  CHECK(w.sup.refresh().last_result == "ok");
  CHECK(w.sup.refresh().current->subject == "U2");
  CHECK(w.due_in(TimerKind::refresh) == 20s);
  CHECK(w.due_in(TimerKind::expiry_alarm) == 28s);  // moved with the new expiry
  CHECK(logged(w, "credentials rotated from signer: user U2"));
  CHECK(w.sup.ready());                              // a rotation is not an outage
  w.advance(20s);
  CHECK(w.refreshes == 2);
}

TEST_CASE("refresh: a failure keeps the credentials in use and retries with backoff, then alarms near expiry") {
  World w(rotating(2s));
  ready_with(w, 30);
  w.advance(20s);
  REQUIRE(w.refreshes == 1);
  const std::vector<Millis> expected = {1s, 2s, 4s};
  for (size_t i = 0; i < expected.size(); ++i) {
    CredsLife at;
    at.checked_at = wall(w);
    w.feed(CredentialsRefreshed{false, "credentials are for account AOTHER, but upstream.account is A", at, 0});
    CHECK(w.due_in(TimerKind::refresh) == expected[i]);
    CHECK(w.sup.refresh().current->subject == "U1");   // the old ones stay
    CHECK(w.sup.refresh().current->exp == kT0 + 30);
    CHECK(w.sup.refresh().last_result == "error");
    w.advance(expected[i]);
    CHECK(w.refreshes == static_cast<int>(i) + 2);
  }
  CHECK(w.sup.refresh().error_count == 3);
  CHECK(logged(w, "credentials refresh failed: credentials are for account AOTHER"));
  CHECK(logged(w, "keeping the credentials in use (user U1"));
  CHECK_FALSE(w.sup.refresh().expiring);
  w.advance(1s);  // 28 s: exp - min_lifetime
  CHECK(w.sup.refresh().expiring);
  CHECK(logged(w, "have not been renewed (the last refresh failed: credentials are for account AOTHER"));
  // A success clears the alarm and the backoff.
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 30, wall(w), "U2"), 0});
  CHECK_FALSE(w.sup.refresh().expiring);
  CHECK(w.sup.refresh().failures_in_row == 0);
  CHECK(w.due_in(TimerKind::refresh) == 20s);
}

TEST_CASE("refresh: unchanged credentials (a file not updated yet) are looked at again with the backoff") {
  World w(rotating());
  ready_with(w, 30);
  w.advance(20s);
  REQUIRE(w.refreshes == 1);
  w.feed(CredentialsRefreshed{true, "", life(kT0, kT0 + 30, wall(w), "U1"), 0});
  CHECK(w.sup.refresh().last_result == "unchanged");
  CHECK(w.sup.refresh().ok_count == 0);
  CHECK(w.due_in(TimerKind::refresh) == 1s);
  w.advance(1s);
  w.feed(CredentialsRefreshed{true, "", life(kT0, kT0 + 30, wall(w), "U1"), 0});
  CHECK(w.due_in(TimerKind::refresh) == 2s);
}

TEST_CASE("refresh: SIGHUP refreshes now, one at a time, a SIGHUP during one runs another after it") {
  World w(rotating());
  ready_with(w, 3600);
  w.feed(SignalReceived{SIGHUP});
  CHECK(w.refreshes == 1);
  CHECK_FALSE(w.pending(TimerKind::refresh));
  w.feed(SignalReceived{SIGHUP});
  CHECK(w.refreshes == 1);
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 3600, wall(w), "U2"), 0});
  CHECK(w.refreshes == 2);
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 3600, wall(w), "U3"), 0});
  CHECK(w.refreshes == 2);
  CHECK(w.sup.refresh().ok_count == 2);
  CHECK(w.due_in(TimerKind::refresh) == 2400s);
}

TEST_CASE("refresh: env credentials cannot be refreshed: said at start, alarm only, SIGHUP says so") {
  Policy p = rotating(5s);
  p.refreshable = false;
  World w(p);
  ready_with(w, 30);
  CHECK(logged(w, "cannot be refreshed by the agent"));
  CHECK_FALSE(w.pending(TimerKind::refresh));
  CHECK(w.due_in(TimerKind::expiry_alarm) == 25s);
  w.feed(SignalReceived{SIGHUP});
  CHECK(w.refreshes == 0);
  w.advance(25s);
  CHECK(w.sup.refresh().expiring);
  CHECK(w.refreshes == 0);
}

TEST_CASE("refresh: credentials without expiry are not scheduled, stopping cancels the refresh") {
  {
    World w(rotating());
    w.feed(Started{});
    BootstrapDone b{true, 0, "", "", {}, 0, {}};
    b.creds = life(kT0, 0, kT0);
    w.feed(b);
    CHECK_FALSE(w.pending(TimerKind::refresh));
    CHECK_FALSE(w.pending(TimerKind::expiry_alarm));
  }
  World w(rotating());
  ready_with(w, 30);
  w.feed(SignalReceived{SIGTERM});
  CHECK_FALSE(w.pending(TimerKind::refresh));
  CHECK_FALSE(w.pending(TimerKind::expiry_alarm));
  w.feed(SignalReceived{SIGHUP});
  CHECK(w.refreshes == 0);
}

TEST_CASE("refresh: a changed creds directory is read once the changes settle, during a refresh, right after it") {
  World w(rotating());
  ready_with(w, 3600);
  w.feed(CredentialsSourceChanged{});
  w.advance(100ms);
  w.feed(CredentialsSourceChanged{});  // a Secret update: several events
  CHECK(w.due_in(TimerKind::refresh) == 200ms);
  w.advance(199ms);
  CHECK(w.refreshes == 0);
  w.advance(1ms);
  CHECK(w.refreshes == 1);
  w.feed(CredentialsSourceChanged{});
  CHECK(w.refreshes == 1);
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 3600, wall(w), "U2"), 0});
  CHECK(w.refreshes == 2);
}

// Issue #20, defect 6: a Secret updated while the bootstrap read the file was dropped (the change
// came before the credentials were adopted), and the old credentials ran until their refresh point.
TEST_CASE("refresh: a change of the creds file during the bootstrap is looked at once the bootstrap is done") {
  World w(rotating());
  w.feed(Started{});
  w.feed(CredentialsSourceChanged{});  // while bootstrapping
  CHECK(w.refreshes == 0);
  BootstrapDone b{true, 0, "", "user U1 of account A", {}, 0, {}};
  b.creds = life(kT0, kT0 + 3600, kT0);
  w.feed(b);
  CHECK(w.due_in(TimerKind::refresh) == 200ms);  // change_settle, not 40 minutes
  w.advance(200ms);
  CHECK(w.refreshes == 1);
  // Without a change, the refresh waits for its point.
  World quiet(rotating());
  quiet.feed(Started{});
  quiet.feed(b);
  CHECK(quiet.due_in(TimerKind::refresh) > 30min);
}

TEST_CASE("supervisor: a restart asks for the checked config and credentials to be verified first") {
  World w;
  w.to_ready();
  w.crash_nats();
  w.advance(0ms);
  REQUIRE(w.spawned_again.size() == 2);
  CHECK_FALSE(w.spawned_again[0]);  // the first start: the bootstrap wrote both a moment ago
  CHECK(w.spawned_again[1]);
}

TEST_CASE("refresh: after a rotation, the hub expiring the previous JWT is expected, not a refusal") {
  World w(rotating());
  ready_with(w, 30);
  w.advance(20s);
  w.feed(CredentialsRefreshed{true, "", life(wall(w), wall(w) + 30, wall(w), "U2"), 0});
  NatsLine expired;
  expired.kind = NatsLineKind::auth_expired;
  expired.level = NatsLevel::error;
  expired.message = "Leafnode Error 'Authentication Expired'";
  w.feed(LogLine{expired});
  CHECK(w.sup.auth_error().empty());
  CHECK(logged(w, "the hub expired the previous credentials; the leaf reconnects with the rotated ones (user U2)"));
  // Without a rotation it is a refusal, said loudly.
  World never(rotating());
  ready_with(never, 30);
  never.feed(LogLine{expired});
  CHECK(never.sup.auth_error().find("Authentication Expired") != std::string::npos);
}

TEST_CASE("refresh: never later than 90 % of the way to the min_lifetime alarm") {
  World w(rotating(300s));
  ready_with(w, 360);                            // two thirds: 240 s; alarm at 60 s
  CHECK(w.due_in(TimerKind::expiry_alarm) == 60s);
  CHECK(w.due_in(TimerKind::refresh) == 54s);
}

// ---- moving the leaf to rotated credentials (rotation.hpp) ----
namespace {
NatsLine line_of(NatsLineKind kind, std::string message = "", std::string version = "") {
  NatsLine l;
  l.kind = kind;
  l.message = std::move(message);
  l.version = std::move(version);
  return l;
}

// Ready on nats-server `release` with credentials living an hour, then a refresh with new ones.
void rotated_on(World& w, const std::string& release, bool staged) {
  ready_with(w, 3600);
  w.feed(LogLine{line_of(NatsLineKind::server_version, "Version: " + release, release)});
  w.advance(2400s);
  REQUIRE(w.refreshes == 1);
  CredentialsRefreshed r{true, "", life(wall(w), wall(w) + 3600, wall(w), "U2"), 0};
  r.staged = staged;
  w.feed(r);
}
}  // namespace

TEST_CASE("rotation: on 2.14+ refreshed credentials are staged and the leaf moved by a reload, the gap measured") {
  World w(rotating());
  ready_with(w, 3600);
  w.feed(LogLine{line_of(NatsLineKind::server_version, "Version: 2.15.1", "2.15.1")});
  CHECK(w.sup.rotates_by_reload());
  w.advance(2400s);
  CredentialsRefreshed r{true, "", life(wall(w), wall(w) + 3600, wall(w), "U2"), 0};
  r.staged = true;
  w.signals.clear();
  w.feed(r);
  CHECK(w.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGHUP}});  // the reload
  CHECK(w.pending(TimerKind::rotation));
  CHECK(w.sup.rotation().moving);
  CHECK_FALSE(w.sup.rotates_by_reload());  // one move at a time
  w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  w.feed(LogLine{line_of(NatsLineKind::leaf_closed, "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed")});
  CHECK_FALSE(w.sup.ready());
  w.advance(12ms);
  w.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
  w.feed(LogLine{line_of(NatsLineKind::leaf_accepted, "127.0.0.1:7422 - lid:6 - JetStream using domains")});
  w.feed(w.good());  // the check in flight since the close: about the old connection
  CHECK_FALSE(w.sup.ready());
  w.feed(w.good());  // one begun after the new connection's first line: the verdict
  CHECK(w.sup.ready());
  CHECK(w.forgets == 1);
  CHECK_FALSE(w.pending(TimerKind::rotation));
  const auto& st = w.sup.rotation();
  CHECK(st.by_reload == 1);
  CHECK(st.last_mechanism == "reload");
  REQUIRE(st.last_gap);
  CHECK(*st.last_gap == 12ms);
  CHECK(logged(w, "the leaf moved to the rotated credentials (user U2) by a config reload: 12 ms without an upstream link"));
  CHECK(w.sup.rotates_by_reload());  // ready for the next one
}

TEST_CASE("rotation: a refused reload falls back to the expiry, and later rotations do not reload again") {
  World w(rotating());
  rotated_on(w, "2.15.1", true);
  w.feed(LogLine{line_of(NatsLineKind::reload_failed, "Failed to reload server configuration: config reload not supported for LeafNode")});
  CHECK(w.unstaged == std::vector<bool>{false});  // nothing of it applied: the staged file goes
  CHECK(w.sup.rotation().fallbacks == 1);
  CHECK(w.sup.rotation().reload_refused);
  CHECK_FALSE(w.sup.rotates_by_reload());
  CHECK(logged(w, "nats-server refused the config reload (Failed to reload server configuration: config reload not supported "
                  "for LeafNode); the leaf moves to the rotated credentials when the hub expires the previous ones"));
}

TEST_CASE("rotation: an old connection still up after rotation_timeout: the move ends as the server left it") {
  // nats-server took the reload (its "Reloaded" line) and kept the old connection: its next
  // connect reads the staged file, which stays the one in use.
  World w(rotating());
  rotated_on(w, "2.15.1", true);
  w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  w.advance(5s);
  CHECK(w.unstaged.empty());
  CHECK(w.forgets == 1);
  CHECK(w.sup.rotation().fallbacks == 1);
  CHECK_FALSE(w.sup.rotation().moving);
  CHECK(logged(w, "nats-server took the config reload but kept the leaf's old connection"));
  // No word at all: the previous file gets the rotated credentials too, and a reload of the
  // config naming it makes sure that is the file the server reads.
  World mute(rotating());
  rotated_on(mute, "2.15.1", true);
  mute.signals.clear();
  mute.advance(5s);
  CHECK(mute.unstaged == std::vector<bool>{true});
  CHECK(mute.signals == std::vector<std::pair<ChildId, int>>{{ChildId::nats, SIGHUP}});
  CHECK(logged(mute, "nats-server did not confirm the config reload; the leaf moves to the rotated credentials when the hub "
                     "expires the previous ones (set credentials.rotate = \"expiry\" to skip the reload)"));
  // A close after the reload is a move under way: the deadline then waits for the link.
  World slow(rotating());
  rotated_on(slow, "2.15.1", true);
  slow.feed(LogLine{line_of(NatsLineKind::leaf_closed, "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed")});
  slow.advance(5s);
  CHECK(slow.unstaged.empty());
  slow.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
  slow.feed(slow.good());
  slow.feed(slow.good());
  CHECK(slow.sup.rotation().by_reload == 1);
}

TEST_CASE("rotation: the hub refusing the new credentials ends the move, and the planned drop touches no restart clock") {
  Policy p = rotating();
  p.leaf_down_restart = 30s;
  p.stable_after = 3h;  // still running at the rotation (2400 s in)
  World w(p);
  rotated_on(w, "2.15.1", true);
  w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  w.feed(LogLine{line_of(NatsLineKind::leaf_closed, "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed")});
  CHECK_FALSE(w.sup.ready());
  CHECK(w.pending(TimerKind::stable));         // a planned drop: the stable period goes on
  CHECK_FALSE(w.pending(TimerKind::leaf_down));
  w.feed(LogLine{line_of(NatsLineKind::auth_refused, "127.0.0.1:7422 - lid:6 - Leafnode Error 'Authorization Violation'")});
  CHECK_FALSE(w.sup.rotation().moving);
  CHECK(w.forgets == 1);  // the server runs the config naming the staged file
  CHECK_FALSE(w.pending(TimerKind::rotation));
  CHECK(w.sup.auth_error().find("Authorization Violation") != std::string::npos);
}

// Found by the rotation bench (upstream.reconnect = "50ms"): a check begun before the hub's
// expiry line answered after it, still listing the old connection, and completed the move with a
// gap of 0 ms.
TEST_CASE("rotation: a check begun before the hub expired the old JWT is about the old connection") {
  World w(rotating());
  rotated_on(w, "2.10.27", false);
  if (!w.check_outstanding) w.feed(TimerFired{TimerKind::check});
  REQUIRE(w.check_outstanding);
  w.feed(LogLine{line_of(NatsLineKind::auth_expired, "127.0.0.1:7422 - lid:5 - Leafnode Error 'User Authentication Expired'")});
  CHECK_FALSE(w.sup.ready());
  w.feed(w.good());  // begun before the expiry: /leafz still listed the old connection
  CHECK_FALSE(w.sup.ready());
  CHECK(w.sup.rotation().by_expiry == 0);
  w.feed(LogLine{line_of(NatsLineKind::leaf_closed, "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed")});
  w.advance(55ms);
  w.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
  w.feed(w.good());
  w.feed(w.good());
  CHECK(w.sup.ready());
  CHECK(w.sup.rotation().by_expiry == 1);
  CHECK(w.sup.rotation().last_gap == 55ms);
}

namespace {
// Ready on `release`, credentials refreshed and written in place, a toggle asked for.
void toggled_on(World& w, const std::string& release) {
  ready_with(w, 3600);
  w.feed(LogLine{line_of(NatsLineKind::server_version, "Version: " + release, release)});
  w.advance(2400s);
  REQUIRE(w.refreshes == 1);
  REQUIRE(w.sup.rotates_by_toggle());
  CredentialsRefreshed r{true, "", life(wall(w), wall(w) + 3600, wall(w), "U2"), 0};
  r.toggle = true;
  w.nats_effects.clear();
  w.feed(r);
}
const char* const kToggleClosed = "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed - Remote: hub";
}  // namespace

TEST_CASE("rotation: on 2.12 and 2.13 the leaf moves by toggling its remote, two reloads, the gap measured") {
  World w(rotating());
  toggled_on(w, "2.12.8");
  CHECK_FALSE(w.sup.rotates_by_reload());
  CHECK(w.nats_effects == std::vector<std::string>{"disabled", "HUP"});
  CHECK(w.sup.rotation().moving);
  CHECK_FALSE(w.sup.rotates_by_toggle());  // one move at a time
  w.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  CHECK_FALSE(w.sup.ready());
  w.advance(2ms);
  w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration (sha256:c37e)")});
  // The disabled config applied: the config as checked, and the reload that dials at once.
  CHECK(w.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP"});
  w.advance(3ms);
  w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration (sha256:edb2)")});
  w.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
  w.advance(5ms);
  w.feed(LogLine{line_of(NatsLineKind::leaf_accepted, "127.0.0.1:7422 - lid:6 - JetStream using domains")});
  w.feed(w.good());
  w.feed(w.good());
  CHECK(w.sup.ready());
  const auto& st = w.sup.rotation();
  CHECK(st.by_toggle == 1);
  CHECK(st.last_mechanism == "toggle");
  CHECK(st.last_gap == 10ms);
  CHECK_FALSE(st.moving);
  CHECK_FALSE(w.pending(TimerKind::rotation));
  CHECK(w.forgets == 0);  // one file: nothing to forget
  CHECK(logged(w, "the leaf moved to the rotated credentials (user U2) by two config reloads disabling and enabling its "
                  "remote: 10 ms without an upstream link"));
  CHECK(w.sup.rotates_by_toggle());  // ready for the next one
  // 2.14+ reload with the other file under "auto", and toggle when told to; before 2.12 neither.
  World newer(rotating());
  ready_with(newer, 3600);
  newer.feed(LogLine{line_of(NatsLineKind::server_version, "Version: 2.15.1", "2.15.1")});
  CHECK(newer.sup.rotates_by_reload());
  CHECK_FALSE(newer.sup.rotates_by_toggle());
  Policy told = rotating();
  told.rotate = Policy::Rotate::toggle;
  World forced(told);
  ready_with(forced, 3600);
  forced.feed(LogLine{line_of(NatsLineKind::server_version, "Version: 2.15.1", "2.15.1")});
  CHECK_FALSE(forced.sup.rotates_by_reload());
  CHECK(forced.sup.rotates_by_toggle());
  World old(told);
  ready_with(old, 3600);
  old.feed(LogLine{line_of(NatsLineKind::server_version, "Version: 2.11.9", "2.11.9")});
  CHECK_FALSE(old.sup.rotates_by_toggle());
}

TEST_CASE("rotation: a move whose link is not back by its deadline counts as the leaf down") {
  Policy p = rotating();
  p.leaf_down_restart = 30s;
  p.stable_after = 3h;  // still running at the rotation (2400 s in)
  for (const bool toggle : {false, true}) {
    CAPTURE(toggle);
    World w(p);
    if (toggle) {
      toggled_on(w, "2.12.8");
    } else {
      rotated_on(w, "2.15.1", true);
    }
    w.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
    w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
    if (toggle) w.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
    CHECK(w.pending(TimerKind::stable));  // planned: nothing counts yet
    CHECK_FALSE(w.pending(TimerKind::leaf_down));
    w.advance(5s);  // the hub does not answer the new connection
    CHECK_FALSE(w.sup.rotation().moving);
    CHECK_FALSE(w.pending(TimerKind::stable));
    REQUIRE(w.pending(TimerKind::leaf_down));
    CHECK(w.due_in(TimerKind::leaf_down) == 30s);
    // Back later: the move is recorded with its whole gap, and the leaf_down clock stops.
    w.advance(2s);
    w.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
    w.feed(w.good());
    w.feed(w.good());
    CHECK(w.sup.ready());
    CHECK_FALSE(w.pending(TimerKind::leaf_down));
    CHECK(w.sup.rotation().last_gap == 7000ms);
    CHECK((toggle ? w.sup.rotation().by_toggle : w.sup.rotation().by_reload) == 1);
  }
}

TEST_CASE("rotation: a toggle that goes wrong ends with the config as checked applied, never a disabled leaf") {
  // The first reload refused: nothing of it applied; the config as checked goes back on disk.
  World refused(rotating());
  toggled_on(refused, "2.12.8");
  refused.feed(LogLine{line_of(NatsLineKind::reload_failed, "Failed to reload server configuration: x")});
  // Reloaded too: had the failure been another reload's, ours would still be queued.
  CHECK(refused.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP"});
  CHECK(refused.sup.rotation().fallbacks == 1);
  CHECK_FALSE(refused.sup.rotation().moving);
  CHECK_FALSE(refused.sup.rotates_by_toggle());  // later rotations wait for the expiry
  CHECK(logged(refused, "nats-server refused the config reload (Failed to reload server configuration: x); the leaf moves "
                        "to the rotated credentials when the hub expires the previous ones"));
  // Taken, and the connection stayed: applied back at once.
  World kept(rotating());
  toggled_on(kept, "2.12.8");
  kept.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  CHECK(kept.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP"});
  CHECK_FALSE(kept.sup.rotation().moving);
  // No word within rotation_timeout: the config as checked, reloaded.
  World mute(rotating());
  toggled_on(mute, "2.12.8");
  mute.advance(5s);
  CHECK(mute.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP"});
  CHECK(logged(mute, "nats-server did not confirm the config reload that disables the leaf's remote"));
  // Disabled, and the reload that enables it goes unconfirmed: sent again.
  World half(rotating());
  toggled_on(half, "2.12.8");
  half.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  half.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  half.advance(5s);
  CHECK(half.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP", "checked", "HUP"});
  CHECK_FALSE(half.sup.rotation().moving);
  // Disabled, and the config as checked refused: only a restart brings the leaf back.
  World stuck(rotating());
  toggled_on(stuck, "2.12.8");
  stuck.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  stuck.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  stuck.feed(LogLine{line_of(NatsLineKind::reload_failed, "Failed to reload server configuration: y")});
  CHECK(stuck.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP", "checked", "TERM"});
  CHECK(logged(stuck, "nats-server refused the config reload that enables the leaf again (Failed to reload server "
                     "configuration: y); restarting nats-server"));
  CHECK(stuck.pending(TimerKind::stop_nats));  // a hung server gets SIGKILL
  stuck.feed(ChildExited{ChildId::nats, 0, ""});
  CHECK(stuck.due_in(TimerKind::restart_nats) == 0ms);  // at once: no crash backoff
  CHECK(stuck.sup.rotates_by_toggle() == false);      // not running yet
  // A "Reloaded" line of someone else's reload took the move to "enabled" early; then ours is
  // refused: the same restart.
  World early(rotating());
  toggled_on(early, "2.12.8");
  early.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  early.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  early.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});  // not ours
  early.feed(LogLine{line_of(NatsLineKind::reload_failed, "Failed to reload server configuration: z")});
  CHECK(early.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked", "HUP", "checked", "TERM"});
  // Stopping while the first reload may still be pending: the config as checked, applied, so the
  // leaf carries the host's last messages while it stops.
  World stopping(rotating());
  toggled_on(stopping, "2.12.8");
  stopping.feed(SignalReceived{SIGTERM});
  REQUIRE(stopping.nats_effects.size() >= 4);
  CHECK(std::vector<std::string>(stopping.nats_effects.begin(), stopping.nats_effects.begin() + 4) ==
        std::vector<std::string>{"disabled", "HUP", "checked", "HUP"});
  // nats-server exits mid-move: its restart reads the config as checked.
  World crashed(rotating());
  toggled_on(crashed, "2.12.8");
  crashed.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  crashed.feed(ChildExited{ChildId::nats, 2, ""});
  CHECK(crashed.nats_effects == std::vector<std::string>{"disabled", "HUP", "checked"});
  CHECK_FALSE(crashed.sup.rotation().moving);
  // A new nats-server is asked again, whatever the one before refused.
  World again(rotating());
  toggled_on(again, "2.12.8");
  again.feed(LogLine{line_of(NatsLineKind::reload_failed, "Failed to reload server configuration: x")});
  CHECK(again.sup.rotation().reload_refused);
  again.feed(ChildExited{ChildId::nats, 1, ""});
  CHECK_FALSE(again.sup.rotation().reload_refused);
  // The hub refuses the credentials the leaf came back with: the move ends, readiness says why.
  World denied(rotating());
  toggled_on(denied, "2.12.8");
  denied.feed(LogLine{line_of(NatsLineKind::leaf_closed, kToggleClosed)});
  denied.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  denied.feed(LogLine{line_of(NatsLineKind::reloaded, "Reloaded server configuration")});
  denied.feed(LogLine{line_of(NatsLineKind::auth_refused, "127.0.0.1:7422 - lid:6 - Leafnode Error 'Authorization Violation'")});
  CHECK_FALSE(denied.sup.rotation().moving);
  CHECK_FALSE(denied.pending(TimerKind::rotation));
  CHECK(denied.sup.auth_error().find("Authorization Violation") != std::string::npos);
}

TEST_CASE("rotation: before 2.14, or with rotate = expiry, the leaf moves at the hub's expiry, measured too") {
  World w(rotating());
  rotated_on(w, "2.10.27", false);
  CHECK_FALSE(w.sup.rotates_by_reload());
  CHECK(w.signals.empty());
  w.feed(LogLine{line_of(NatsLineKind::auth_expired, "127.0.0.1:7422 - lid:5 - Leafnode Error 'User Authentication Expired'")});
  w.feed(LogLine{line_of(NatsLineKind::leaf_closed, "127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed")});
  w.advance(1010ms);
  w.feed(LogLine{line_of(NatsLineKind::leaf_connected, "127.0.0.1:7422 - lid:6 - Leafnode connection created")});
  w.feed(w.good());
  w.feed(w.good());
  CHECK(w.sup.rotation().by_expiry == 1);
  CHECK(w.sup.rotation().last_gap == 1010ms);
  CHECK(logged(w, "the leaf moved to the rotated credentials (user U2) at the hub's expiry of the previous ones: 1010 ms "
                  "without an upstream link"));
  Policy p = rotating();
  p.rotate = Policy::Rotate::expiry;
  World off(p);
  ready_with(off, 3600);
  off.feed(LogLine{line_of(NatsLineKind::server_version, "Version: 2.15.1", "2.15.1")});
  CHECK_FALSE(off.sup.rotates_by_reload());
}
