// Readiness, as a pure machine: nats-server's classified log lines and the readiness checks'
// results go in; out come the checks to run (RunCheck, and when: Schedule/CancelTimer check) and
// a Judgement for the lifecycle (ready or not and why, a failure that must stop the agent, a
// reason to diagnose the upstream). The verdict is always a check's (the leaf's own /leafz lists
// this connection and shows the hub's interest); the lines only bring the checks sooner.
#pragma once

#include <optional>
#include <string>

#include "agent/supervise/events.hpp"

namespace leaf::supervise {

struct Judgement {
  std::optional<bool> ready;  // readiness is now this (the lifecycle acts on a change)
  std::string why;            // what became true or false; the failure's message
  int fail_code = 0;          // nonzero: stop the agent with this exit code and `why`
  bool diagnose = false;      // probe the upstream to name why the leaf is not up
};

class Readiness {
 public:
  explicit Readiness(const Policy& p) : p_(p) {}

  void server_started(Actions& out);  // a nats-server (re)started: nothing seen so far counts
  void server_exited(Actions& out);   // a check in flight speaks of a dead server
  // `rotated`: the credentials were refreshed, so an expiry is the old JWT's (RefreshSchedule);
  // `subject`: of the credentials in use, for the log.
  Judgement line(const NatsLine& l, bool rotated, const std::string& subject, Actions& out);
  Judgement check_done(const CheckResult& r, Actions& out);
  // After the lifecycle applied a Judgement of check_done: the next check, sooner or later.
  void after_check(bool ready, Actions& out);
  void want_check(Actions& out);      // now, or right after the one in flight
  void stop() { stopped_ = true; }

  void set_identity(std::string identity) { identity_ = std::move(identity); }
  const CheckResult& last_check() const { return last_check_; }
  const std::string& upstream_in_use() const { return upstream_; }
  const std::string& auth_error() const { return auth_error_; }
  const std::string& config_error() const { return config_error_; }  // what the server said of its config
  const std::string& last_line() const { return last_nats_line_; }    // its last telling line
  // The running nats-server's release ("2.10.27") from its banner; "" until it said.
  const std::string& nats_version() const { return nats_version_; }

 private:
  void next_check(bool ready, Actions& out);
  void begin_fast_checks(Millis first, int count);  // checks at first, 2x first, 4x ... (next_check)
  Judgement hub_ends_connection(const std::string& why);
  Judgement lose_leaf(const std::string& why);      // it is gone or refused: not ready
  Judgement end_connection(const std::string& why); // closed or rejected: /leafz is stale until the next

  const Policy& p_;
  bool running_ = false, stopped_ = false;
  bool check_in_flight_ = false, check_wanted_ = false;
  bool accepted_line_ = false;      // the leaf logged the hub's acceptance of the current connection
  bool leaf_closed_ = false;        // since the leaf's closed line, until a new connection's first
  std::string leaf_lost_why_;       // what closed it (or the hub's rejection)
  int fast_checks_left_ = 0, fast_total_ = 0;
  Millis fast_first_{5};
  // Checks are numbered as they begin (one in flight at a time): a result speaks for the moment
  // its check began. fresh_after_seq_: the last number before this nats-server's start, its leaf
  // connection's first line, or that connection's close or rejection.
  long check_seq_ = 0, last_check_seq_ = 0, fresh_after_seq_ = 0;
  std::string upstream_, auth_error_, last_nats_line_, config_error_, identity_, nats_version_;
  CheckResult last_check_;
};

}  // namespace leaf::supervise
