// The agent's decisions, and nothing else: pure state machines. Each event (a child exited, a
// classified nats-server log line, a readiness check's result, a timer, a signal, the bootstrap
// finishing) goes in with the time it happened; a list of actions comes out (spawn, signal,
// schedule, set ready, exit). The runner carries the actions out; tests drive it with a fake
// clock and assert every rule without a process or a socket.
//
// Three machines, composed here: the lifecycle (this class: start, host gate, restart with
// backoff, ordered stop, exit code), readiness (readiness.hpp: lines and checks -> ready or not,
// and why), and the refresh schedule (refresh_schedule.hpp: adopt, request, result, alarm).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "agent/supervise/events.hpp"
#include "agent/supervise/readiness.hpp"
#include "agent/supervise/refresh_schedule.hpp"
#include "agent/supervise/rotation.hpp"

namespace leaf::supervise {

class Supervisor {
 public:
  explicit Supervisor(Policy p) : p_(std::move(p)), readiness_(p_), refresh_(p_), rotation_(p_) {}
  Supervisor(const Supervisor&) = delete;  // its machines hold a reference to p_
  Supervisor& operator=(const Supervisor&) = delete;

  Actions on(const Event& e, TimePoint now);

  // For /status and /metrics.
  Phase phase() const { return phase_; }
  bool ready() const { return ready_; }
  bool ever_ready() const { return ever_ready_; }
  bool running(ChildId c) const { return running_[static_cast<int>(c)]; }
  int nats_restarts() const { return restarts_; }
  const std::string& upstream_in_use() const { return readiness_.upstream_in_use(); }
  const std::string& auth_error() const { return readiness_.auth_error(); }
  const CheckResult& last_check() const { return readiness_.last_check(); }
  std::optional<Millis> ready_after() const { return ready_after_; }
  int exit_code() const { return exit_code_; }
  const RefreshState& refresh() const { return refresh_.state(); }
  const RotationState& rotation() const { return rotation_.state(); }
  // Whether refreshed credentials are to be staged for a move by config reload (rotation.hpp).
  bool rotates_by_reload() const {
    return phase_ != Phase::stopping && running(ChildId::nats) && rotation_.by_reload(nats_version(), ready_);
  }
  // Whether refreshed credentials, written in place, are to move the leaf by toggle (rotation.hpp).
  bool rotates_by_toggle() const {
    return phase_ != Phase::stopping && running(ChildId::nats) && rotation_.by_toggle(nats_version(), ready_);
  }
  // The running nats-server's release ("2.10.27"): from its banner, else from --version; "" unknown.
  const std::string& nats_version() const {
    return readiness_.nats_version().empty() ? nats_version_ : readiness_.nats_version();
  }

 private:
  void on_started(Actions& out);
  void on_bootstrap(const BootstrapDone& e, Actions& out);
  void on_child_started(const ChildStarted& e, Actions& out);
  void on_child_exited(const ChildExited& e, Actions& out);
  void on_line(const NatsLine& l, Actions& out);
  void on_check(const CheckResult& r, Actions& out);
  void on_timer(TimerKind k, Actions& out);
  void on_signal(int sig, Actions& out);
  void want_diagnosis(Actions& out);  // before the first ready only; one at a time
  void on_diagnosed(const UpstreamDiagnosed& d, Actions& out);
  // A judgement of the readiness machine: ready or not, a failure, a diagnosis; then `after`
  // (the checks it scheduled), in that order.
  void apply(const Judgement& j, Actions& after, Actions& out);
  // A planned restart (SIGTERM, SIGKILL after stop_timeout, no backoff), said at `level`.
  void restart_nats(const std::string& why, Actions& out, Log::Level level = Log::error);
  void unplanned_drop(Actions& out);  // the leaf is down, not for a move: stable ends, leaf_down counts
  void set_ready(bool ready, const std::string& why, Actions& out);
  void fail(int code, const std::string& error, Actions& out);
  void stop(Actions& out);           // begin (or continue) the ordered stop
  void stop_next(Actions& out);      // signal the first running child in stop order
  bool& term_sent(ChildId c) { return term_sent_[static_cast<int>(c)]; }

  Policy p_;
  Readiness readiness_;
  RefreshSchedule refresh_;
  Rotation rotation_;
  TimePoint now_{}, started_at_{};
  Phase phase_ = Phase::bootstrapping;
  bool bootstrapped_ = false, ready_ = false, ever_ready_ = false, host_started_ = false;
  bool running_[kChildren] = {false, false};
  bool term_sent_[kChildren] = {false, false};
  bool restart_requested_ = false;
  bool planned_drop_ = false;  // not ready only for a move to rotated credentials (set_ready)
  bool diagnosis_in_flight_ = false;
  int restarts_ = 0, restarts_since_stable_ = 0;
  int exit_code_ = 0;
  bool exit_code_set_ = false;
  std::string exit_error_;
  std::optional<TimePoint> leaf_down_since_;
  std::optional<Millis> ready_after_;
  BootstrapProgress progress_;   // the bootstrap's latest failure (fed by the runner)
  BootstrapProgress diagnosis_;  // the latest failed upstream diagnosis, until ready
  std::string nats_version_;     // what the bootstrap's --version said
};

}  // namespace leaf::supervise
