#include "agent/supervise/refresh_schedule.hpp"

#include <algorithm>
#include <cstdio>

#include "agent/core/duration.hpp"

namespace leaf::supervise {

namespace {
std::string seconds_text(Millis d) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g s", static_cast<double>(d.count()) / 1000.0);
  return b;
}

std::string expires_text(const CredsLife& c) {
  return c.exp == 0 ? std::string("never expire")
                    : "expire at " + format_utc(c.exp) + " (in " +
                          format_duration(std::chrono::seconds(std::max<std::int64_t>(0, c.exp - c.checked_at))) + ")";
}
}  // namespace

Millis refresh_delay(std::int64_t now, std::int64_t iat, std::int64_t exp, double fraction, double jitter_draw) {
  const double life_ms = static_cast<double>(std::max<std::int64_t>(0, exp - iat)) * 1000.0;
  const double jitter = std::clamp(jitter_draw, -1.0, 1.0) * 0.1 * life_ms;
  const double at_ms = static_cast<double>(iat) * 1000.0 + fraction * life_ms + jitter;
  const double delay = at_ms - static_cast<double>(now) * 1000.0;
  // delay + 0.5 truncated: std::llround for a positive delay, without libm (leaf-agent needs none).
  return Millis(delay <= 0 ? 0 : static_cast<Millis::rep>(delay + 0.5));
}

Millis retry_delay(int failures) {
  Millis d(1000);
  for (int i = 1; i < failures && d < Millis(60000); ++i) d *= 2;
  return std::min(d, Millis(60000));
}

void RefreshSchedule::start(const CredsLife& c, double jitter, TimePoint now, Actions& out) {
  adopt(c, jitter, now, out);
  if (c.exp != 0 && !p_.refreshable) {
    out.push_back(Log{Log::warn, "credentials from " + c.origin + " expire at " + format_utc(c.exp) +
                                     " and cannot be refreshed by the agent: restart it with new ones before then"});
  }
  // A Secret updated while the bootstrap read the file: what it read may be the old one.
  if (changed_early_ && p_.refreshable) schedule(p_.change_settle, now, out);
  changed_early_ = false;
}

std::optional<Millis> RefreshSchedule::adopt(const CredsLife& c, double jitter, TimePoint now, Actions& out) {
  s_.current = c;
  s_.expiring = false;
  out.push_back(CancelTimer{TimerKind::expiry_alarm});
  out.push_back(CancelTimer{TimerKind::refresh});
  s_.next_at.reset();
  if (c.exp == 0) return std::nullopt;  // no expiry: refreshed only on SIGHUP or a change
  const std::int64_t min_life_s = std::chrono::duration_cast<std::chrono::seconds>(p_.min_lifetime).count();
  const std::int64_t alarm_in_s = std::max<std::int64_t>(0, c.exp - min_life_s - c.checked_at);
  out.push_back(Schedule{TimerKind::expiry_alarm, Millis(alarm_in_s * 1000)});
  if (!p_.refreshable) return std::nullopt;
  // Short-lived credentials next to a long min_lifetime: refresh well before the alarm point.
  const Millis d = std::min(refresh_delay(c.checked_at, c.iat, c.exp, p_.refresh_fraction, jitter), Millis(alarm_in_s * 900));
  schedule(d, now, out);
  return d;
}

void RefreshSchedule::schedule(Millis delay, TimePoint now, Actions& out) {
  s_.next_at = now + delay;
  out.push_back(Schedule{TimerKind::refresh, delay});
}

void RefreshSchedule::request(TimePoint, Actions& out) {
  if (stopped_ || !s_.current) return;
  if (s_.in_flight) {
    s_.wanted = true;
    return;
  }
  s_.in_flight = true;
  s_.wanted = false;
  s_.next_at.reset();
  out.push_back(CancelTimer{TimerKind::refresh});
  out.push_back(RunRefresh{});
}

void RefreshSchedule::source_changed(TimePoint now, Actions& out) {
  if (stopped_ || !p_.refreshable) return;
  if (!s_.current) {  // still bootstrapping: kept for when its credentials are adopted
    changed_early_ = true;
    return;
  }
  if (s_.in_flight) {
    s_.wanted = true;
    return;
  }
  // A Secret update is several directory events: read once they have settled.
  schedule(p_.change_settle, now, out);
}

void RefreshSchedule::sighup(TimePoint now, Actions& out) {
  if (!s_.current) return;  // bootstrapping, or dev mode: nothing to refresh yet
  if (!p_.refreshable) {
    out.push_back(Log{Log::warn, "SIGHUP: credentials from " + s_.current->origin + " cannot be refreshed by the agent"});
    return;
  }
  out.push_back(Log{Log::info, "SIGHUP: refreshing the credentials now"});
  request(now, out);
}

void RefreshSchedule::refreshed(const CredentialsRefreshed& r, TimePoint now, Actions& out) {
  s_.in_flight = false;
  s_.last_at = now;
  if (stopped_ || !s_.current) return;
  const CredsLife old = *s_.current;
  if (!r.ok) {
    ++s_.error_count;
    ++s_.failures_in_row;
    s_.last_result = "error";
    s_.last_error = r.error;
    const Millis d = retry_delay(s_.failures_in_row);
    CredsLife now_view = old;
    now_view.checked_at = r.creds.checked_at ? r.creds.checked_at : old.checked_at;
    out.push_back(Log{Log::error, "credentials refresh failed: " + r.error + "; keeping the credentials in use (user " +
                                      old.subject + ", " + expires_text(now_view) + "); retrying in " + seconds_text(d)});
    schedule(d, now, out);
  } else if (r.creds.subject == old.subject && r.creds.iat == old.iat && r.creds.exp == old.exp) {
    // The source still has the credentials in use (a file or endpoint not updated yet): look
    // again at their refresh point, or with the backoff once that has passed.
    s_.last_result = "unchanged";
    s_.failures_in_row = 0;  // the source answers again with what is in use: not an error
    s_.last_error.clear();
    ++s_.unchanged_in_row;
    Millis d = old.exp == 0 ? Millis(0) : refresh_delay(r.creds.checked_at, old.iat, old.exp, p_.refresh_fraction, r.jitter_draw);
    if (d.count() == 0 && old.exp != 0) d = retry_delay(s_.unchanged_in_row);
    if (d.count() > 0) schedule(d, now, out);
  } else {
    ++s_.ok_count;
    s_.failures_in_row = 0;
    s_.unchanged_in_row = 0;
    s_.last_result = "ok";
    s_.last_error.clear();
    const auto d = adopt(r.creds, r.jitter_draw, now, out);
    out.push_back(Log{Log::info, "credentials rotated from " + r.creds.origin + ": user " + r.creds.subject + ", " +
                                     expires_text(r.creds) +
                                     (r.staged ? "; moving the leaf to them now (config reload)"
                                               : "; nats-server uses them at its next leaf connect") +
                                     (d ? "; next refresh in " + seconds_text(*d) : std::string())});
  }
  if (s_.wanted) {
    s_.wanted = false;
    request(now, out);
  }
}

void RefreshSchedule::expiry_alarm(Actions& out) {
  if (stopped_ || !s_.current) return;
  s_.expiring = true;
  const auto& c = *s_.current;
  const std::string why = !p_.refreshable           ? "the source cannot refresh them"
                          : s_.last_error.empty()   ? "no new credentials yet"
                                                    : "the last refresh failed: " + s_.last_error;
  out.push_back(Log{Log::error, "credentials of user " + c.subject + " expire at " + format_utc(c.exp) +
                                    ", within credentials.min_lifetime, and have not been renewed (" + why +
                                    "); the leaf will be disconnected when they expire"});
}

void RefreshSchedule::stop(Actions& out) {
  stopped_ = true;
  out.push_back(CancelTimer{TimerKind::refresh});
  out.push_back(CancelTimer{TimerKind::expiry_alarm});
}

}  // namespace leaf::supervise
