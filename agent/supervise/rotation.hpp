// Moving the leaf to refreshed credentials, as a pure machine, and what each move cost.
//   nats-server 2.14+ (credentials.rotate = "auto"): the runner stages the credentials in the
//   other slot and a config naming it; a reload (SIGHUP) makes nats-server drop the old
//   connection and dial the new one at once. Confirmed by the server's "Reloaded" line, the old
//   connection's close and the new one's acceptance (readiness); a refused reload, or an old
//   connection still up after rotation_timeout, falls back: the credentials go into the slot the
//   running config reads, and the leaf moves at the hub's expiry of the old ones.
//   Otherwise (2.9 to 2.13, or rotate = "expiry"): the hub expires the old JWT, the leaf
//   reconnects `leafnodes.reconnect` later on the file that already holds the new one.
// Either way the gap is measured: from the old connection's close to the new one's acceptance.
#pragma once

#include <optional>
#include <string>

#include "agent/supervise/events.hpp"

namespace leaf::supervise {

// What /status and /metrics show of the moves.
struct RotationState {
  std::string last_mechanism;      // "" (none yet), "reload" or "expiry"
  std::optional<Millis> last_gap;  // the last move's time without an upstream link
  int by_reload = 0, by_expiry = 0, fallbacks = 0;
  bool moving = false;             // a move by reload is under way
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
  void line(const NatsLine& l, bool rotated, const std::string& subject, TimePoint now, Actions& out);
  void ready(TimePoint now, Actions& out);   // the leaf is accepted again
  void deadline(Actions& out);               // TimerKind::rotation
  void server_exited(Actions& out);          // a restart reads the staged config: the move is moot
  void stop(Actions& out);

  const RotationState& state() const { return s_; }

 private:
  void fall_back(const std::string& why, bool keep_staged, Actions& out);
  void end_move(bool forget_previous, Actions& out);
  void done(const char* mechanism, TimePoint now, Actions& out);

  enum class Step { idle, reloading, moving, expiring };
  const Policy& p_;
  RotationState s_;
  Step step_ = Step::idle;
  std::optional<TimePoint> closed_at_;  // the old connection's close, during a move
  std::string subject_;                 // the user the leaf moves to
};

}  // namespace leaf::supervise
