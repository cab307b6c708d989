// Moving the leaf to refreshed credentials, as a pure machine, and what each move cost.
//   nats-server 2.14+ (credentials.rotate = "auto"): the runner stages the credentials in the
//   other slot and a config naming it; a reload (SIGHUP) makes nats-server drop the old
//   connection and dial the new one at once. Confirmed by the server's "Reloaded" line, the old
//   connection's close and the new one's acceptance (readiness); a refused reload, or an old
//   connection still up after rotation_timeout, falls back: the credentials go into the slot the
//   running config reads, and the leaf moves at the hub's expiry of the old ones.
//   2.12 and 2.13 ("auto"), or any 2.12+ (credentials.rotate = "toggle"): the credentials are
//   written in place, then two reloads: one with the remote `disabled` (nats-server closes the
//   connection), and once that is applied one with the config as checked (it dials at once, and
//   reads the file). Whatever goes wrong ends with the config as checked written and applied: a
//   leaf left disabled is the one outcome this must never have.
//   Otherwise (2.9 to 2.11, or rotate = "expiry"): the hub expires the old JWT, the leaf
//   reconnects `leafnodes.reconnect` later on the file that already holds the new one.
// Either way the gap is measured: from the old connection's close to the new one's acceptance.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "agent/supervise/events.hpp"

namespace leaf::supervise {

// What /status and /metrics show of the moves.
struct RotationState {
  std::string last_mechanism;      // "" (none yet), "reload", "toggle" or "expiry"
  std::optional<Millis> last_gap;  // the last move's time without an upstream link
  int by_reload = 0, by_toggle = 0, by_expiry = 0, fallbacks = 0;
  bool moving = false;             // a move by reload or toggle is under way
  bool reload_refused = false;     // this nats-server refused one: later moves wait for the expiry
};

class Rotation {
 public:
  explicit Rotation(const Policy& p) : p_(p) {}

  // Whether refreshed credentials are to be staged for a move by reload now: the running
  // release replaces a remote on reload, it has not refused to, no move is under way, and the
  // leaf is up (else its next connect reads the file in use anyway).
  bool by_reload(const std::string& nats_version, bool leaf_up) const;
  void staged(const std::string& subject, TimePoint now, Actions& out);  // reload now
  // Whether refreshed credentials, written in place, are to move the leaf by toggle now (the
  // same conditions, for the releases and modes above).
  bool by_toggle(const std::string& nats_version, bool leaf_up) const;
  void toggle(const std::string& subject, TimePoint now, Actions& out);  // the first reload now
  void line(const NatsLine& l, bool rotated, const std::string& subject, TimePoint now, Actions& out);
  void ready(TimePoint now, Actions& out);   // the leaf is accepted again
  void deadline(Actions& out);               // TimerKind::rotation
  void server_exited(Actions& out);          // a restart reads the staged config: the move is moot
  void stop(Actions& out);

  const RotationState& state() const { return s_; }
  // Why nats-server must be restarted (once, taken by the supervisor, which knows how), or "".
  std::string take_restart() { return std::exchange(restart_, std::string()); }

 private:
  void fall_back(const std::string& why, bool keep_staged, Actions& out);
  void end_move(bool forget_previous, Actions& out);
  void done(const char* mechanism, TimePoint now, Actions& out);
  void toggle_failed(const std::string& why, Actions& out);

  // reloading -> moving: a move by reload; disabling -> enabling -> enabled: by toggle.
  enum class Step { idle, reloading, moving, expiring, disabling, enabling, enabled };
  bool toggling() const { return step_ == Step::disabling || step_ == Step::enabling || step_ == Step::enabled; }
  const Policy& p_;
  RotationState s_;
  Step step_ = Step::idle;
  std::optional<TimePoint> closed_at_;  // the old connection's close, during a move
  std::string subject_;                 // the user the leaf moves to
  std::string restart_;                 // take_restart()
};

}  // namespace leaf::supervise
