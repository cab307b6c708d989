// The refresh schedule (spiffe-helper's one rotation loop, as a pure machine): the credentials in
// use are adopted with their lifetime; a refresh is asked at refresh_at of it (jittered), on a
// change of the source (settled), on SIGHUP, or again after a failure (backoff); one runs at a
// time; an alarm goes off when they come within credentials.min_lifetime of expiry unrenewed.
// Actions out: Schedule/CancelTimer (refresh, expiry_alarm), RunRefresh, Log.
#pragma once

#include <optional>
#include <string>

#include "agent/supervise/events.hpp"

namespace leaf::supervise {

// What /status and /metrics show of the refresh.
struct RefreshState {
  std::optional<CredsLife> current;        // the credentials in use
  std::optional<TimePoint> next_at;        // the pending refresh
  std::optional<TimePoint> last_at;        // the last refresh's completion
  std::string last_result;                 // "" (none yet), "ok", "unchanged" or "error"
  std::string last_error;
  int ok_count = 0, error_count = 0, failures_in_row = 0, unchanged_in_row = 0;
  bool in_flight = false, wanted = false;
  bool expiring = false;                   // within credentials.min_lifetime of expiry, not renewed
};

class RefreshSchedule {
 public:
  explicit RefreshSchedule(const Policy& p) : p_(p) {}

  // The credentials the bootstrap wrote: their refresh and alarm are scheduled. A change of the
  // source seen before (during the bootstrap) is looked at soon instead.
  void start(const CredsLife& c, double jitter, TimePoint now, Actions& out);
  void request(TimePoint now, Actions& out);          // now, or after the one in flight
  void source_changed(TimePoint now, Actions& out);   // the creds file's folder changed
  void refreshed(const CredentialsRefreshed& r, TimePoint now, Actions& out);
  void expiry_alarm(Actions& out);
  void sighup(TimePoint now, Actions& out);
  void stop(Actions& out);                            // nothing more is scheduled

  const RefreshState& state() const { return s_; }
  // The current credentials replace ones the hub may still expire on the leaf: rotation as designed.
  bool rotated() const { return s_.ok_count > 0 && !s_.expiring; }

 private:
  std::optional<Millis> adopt(const CredsLife& c, double jitter, TimePoint now, Actions& out);
  void schedule(Millis delay, TimePoint now, Actions& out);

  const Policy& p_;
  RefreshState s_;
  bool stopped_ = false;
  bool changed_early_ = false;  // the source changed before the bootstrap's credentials were adopted
};

}  // namespace leaf::supervise
