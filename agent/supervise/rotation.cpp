#include "agent/supervise/rotation.hpp"

#include <signal.h>

#include "agent/config/nats_version.hpp"

namespace leaf::supervise {

bool Rotation::by_reload(const std::string& nats_version, bool leaf_up) const {
  if (p_.rotate != Policy::Rotate::automatic || s_.reload_refused || step_ != Step::idle || !leaf_up) return false;
  const auto v = nats_version::parse(nats_version);
  return v && nats_version::reload_replaces_remote(*v);
}

bool Rotation::by_toggle(const std::string& nats_version, bool leaf_up) const {
  if (p_.rotate == Policy::Rotate::expiry || s_.reload_refused || step_ != Step::idle || !leaf_up) return false;
  const auto v = nats_version::parse(nats_version);
  if (!v || !nats_version::reload_toggles_remote(*v)) return false;
  return p_.rotate == Policy::Rotate::toggle || !nats_version::reload_replaces_remote(*v);
}

void Rotation::toggle(const std::string& subject, TimePoint, Actions& out) {
  step_ = Step::disabling;
  s_.moving = true;
  subject_ = subject;
  closed_at_.reset();
  out.push_back(SwitchRemote{false});
  out.push_back(SendSignal{ChildId::nats, SIGHUP});
  out.push_back(Schedule{TimerKind::rotation, p_.rotation_timeout});
}

// The toggle did not go as planned: the config as checked goes back, and is reloaded (a no-op
// reload where nothing else applied; where a line was not about our reload, the SIGHUP of ours
// still queued would otherwise apply the disabled file). Later rotations wait for the expiry.
void Rotation::toggle_failed(const std::string& why, Actions& out) {
  ++s_.fallbacks;
  s_.reload_refused = true;
  end_move(/*forget_previous=*/false, out);
  out.push_back(SwitchRemote{true});
  out.push_back(SendSignal{ChildId::nats, SIGHUP});
  out.push_back(Log{Log::warn, why + "; the leaf moves to the rotated credentials when the hub expires the previous ones "
                                     "(set credentials.rotate = \"expiry\" to skip the reloads)"});
}

void Rotation::staged(const std::string& subject, TimePoint, Actions& out) {
  step_ = Step::reloading;
  s_.moving = true;
  subject_ = subject;
  closed_at_.reset();
  out.push_back(SendSignal{ChildId::nats, SIGHUP});  // nats-server reloads its config
  out.push_back(Schedule{TimerKind::rotation, p_.rotation_timeout});
}

void Rotation::line(const NatsLine& l, bool rotated, const std::string& subject, TimePoint now, Actions& out) {
  switch (l.kind) {
    case NatsLineKind::reloaded:
      if (step_ == Step::reloading) step_ = Step::moving;
      if (step_ == Step::enabling) step_ = Step::enabled;  // it dials the hub now
      if (step_ == Step::disabling) {
        // nats-server closes the remote's connection while it applies the reload, before this
        // line. None: the config it took left the leaf up.
        if (!closed_at_) return toggle_failed("nats-server took the config reload but kept the leaf's connection", out);
        step_ = Step::enabling;
        out.push_back(SwitchRemote{true});
        out.push_back(SendSignal{ChildId::nats, SIGHUP});
        out.push_back(Schedule{TimerKind::rotation, p_.rotation_timeout});
      }
      return;
    case NatsLineKind::reload_failed:
      if (step_ == Step::reloading || step_ == Step::moving) {
        fall_back("nats-server refused the config reload (" + l.message + ")", /*keep_staged=*/false, out);
      }
      if (step_ == Step::disabling) {
        // Nothing of it applied: the remote is up as before, on the file that holds the new credentials.
        toggle_failed("nats-server refused the config reload (" + l.message + ")", out);
      }
      if (step_ == Step::enabling || step_ == Step::enabled) {
        // The remote may be disabled and nats-server refuses the config as checked ("enabled":
        // the "Reloaded" line taken for ours may have been another reload's): only a restart
        // brings the leaf back for sure (it reads that config).
        ++s_.fallbacks;
        s_.reload_refused = true;
        end_move(false, out);
        out.push_back(SwitchRemote{true});
        restart_ = "nats-server refused the config reload that enables the leaf again (" + l.message + ")";
      }
      return;
    case NatsLineKind::auth_refused:
      // The hub refuses the credentials the leaf moved to (revoked since they were checked?):
      // the move is over; readiness reports the refusal, and the staged file is the one in use.
      if (step_ == Step::reloading || step_ == Step::moving) end_move(step_ == Step::moving, out);
      if (step_ == Step::enabling || step_ == Step::enabled) end_move(false, out);
      return;
    case NatsLineKind::auth_expired:
      // During a move: the old connection's end, as a close. Else the hub expired the JWT the
      // leaf connected with, and the file holds the rotated one.
      if (step_ != Step::idle) {
        if (!closed_at_) closed_at_ = now;
        return;
      }
      if (rotated) {
        step_ = Step::expiring;
        subject_ = subject;
        closed_at_ = now;
      }
      return;
    case NatsLineKind::leaf_closed:
      if (step_ != Step::idle && !closed_at_) closed_at_ = now;
      return;
    default: return;
  }
}

void Rotation::ready(TimePoint now, Actions& out) {
  if (!closed_at_) return;  // no move under way, or the old connection still up
  if (step_ == Step::reloading || step_ == Step::moving) return done("reload", now, out);
  if (step_ == Step::enabling || step_ == Step::enabled) return done("toggle", now, out);
  if (step_ == Step::expiring) return done("expiry", now, out);
}

void Rotation::done(const char* mechanism, TimePoint now, Actions& out) {
  const std::string m = mechanism;
  const Millis gap = std::chrono::duration_cast<Millis>(now - *closed_at_);
  s_.last_mechanism = m;
  s_.last_gap = gap;
  ++(m == "reload" ? s_.by_reload : m == "toggle" ? s_.by_toggle : s_.by_expiry);
  s_.moving = false;
  const char* how = m == "reload"   ? "by a config reload"
                    : m == "toggle" ? "by two config reloads disabling and enabling its remote"
                                    : "at the hub's expiry of the previous ones";
  out.push_back(Log{Log::info, "the leaf moved to the rotated credentials (user " + subject_ + ") " + how + ": " +
                                   std::to_string(gap.count()) + " ms without an upstream link"});
  if (m != "expiry") out.push_back(CancelTimer{TimerKind::rotation});
  if (m == "reload") out.push_back(ForgetPreviousCredentials{});
  step_ = Step::idle;
  closed_at_.reset();
}

void Rotation::deadline(Actions& out) {
  if (step_ == Step::disabling) {
    return toggle_failed("nats-server did not confirm the config reload that disables the leaf's remote", out);
  }
  if (step_ == Step::enabling) {
    // Whether or not the disabled config is what runs, this reload applies the one as checked.
    ++s_.fallbacks;
    end_move(false, out);
    out.push_back(SwitchRemote{true});
    out.push_back(SendSignal{ChildId::nats, SIGHUP});
    out.push_back(Log{Log::warn, "nats-server did not confirm the config reload that enables the leaf again; reloading again"});
    return;
  }
  if (step_ != Step::reloading && step_ != Step::moving && step_ != Step::enabled) return;
  // The old connection closed: the leaf moved, and its link is not back yet. That is the hub's
  // matter (readiness reports it), and no planned moment any more: the move is recorded when the
  // link is back, and meanwhile the leaf counts as down (the supervisor's leaf_down_restart).
  if (closed_at_ || step_ == Step::enabled) {
    s_.moving = false;
    return;
  }
  if (step_ == Step::moving) {
    ++s_.fallbacks;
    s_.reload_refused = true;
    // nats-server took the config naming the staged file, and kept the old connection: its next
    // connect reads the staged file, which stays the one in use.
    end_move(/*forget_previous=*/true, out);
    out.push_back(Log{Log::warn, "nats-server took the config reload but kept the leaf's old connection; the leaf moves to "
                                 "the rotated credentials when the hub expires the previous ones"});
    return;
  }
  // No word from nats-server: whichever config it runs, after this reload of the one naming the
  // previous file (which now holds the rotated credentials too) it reads that file.
  fall_back("nats-server did not confirm the config reload", /*keep_staged=*/true, out);
  out.push_back(SendSignal{ChildId::nats, SIGHUP});
}

void Rotation::end_move(bool forget_previous, Actions& out) {
  step_ = Step::idle;
  s_.moving = false;
  closed_at_.reset();
  out.push_back(CancelTimer{TimerKind::rotation});
  if (forget_previous) out.push_back(ForgetPreviousCredentials{});
}

void Rotation::fall_back(const std::string& why, bool keep_staged, Actions& out) {
  ++s_.fallbacks;
  s_.reload_refused = true;
  end_move(/*forget_previous=*/false, out);
  out.push_back(UnstageCredentials{keep_staged});
  out.push_back(Log{Log::warn, why + "; the leaf moves to the rotated credentials when the hub expires the previous "
                                     "ones (set credentials.rotate = \"expiry\" to skip the reload)"});
}

void Rotation::server_exited(Actions& out) {
  s_.reload_refused = false;  // "later rotations of that nats-server": a new one is asked again
  if (step_ == Step::reloading || step_ == Step::moving) {
    out.push_back(CancelTimer{TimerKind::rotation});
    out.push_back(ForgetPreviousCredentials{});  // the restart's config names the staged file
  }
  if (toggling()) {
    out.push_back(CancelTimer{TimerKind::rotation});
    out.push_back(SwitchRemote{true});  // the restart reads the config as checked (it is written again anyway)
  }
  step_ = Step::idle;
  s_.moving = false;
  closed_at_.reset();
}

void Rotation::stop(Actions& out) {
  out.push_back(CancelTimer{TimerKind::rotation});
  if (toggling()) {
    // The first reload may still be pending: the leaf stays up while the host stops, and no
    // disabled remote is left in state_dir.
    out.push_back(SwitchRemote{true});
    out.push_back(SendSignal{ChildId::nats, SIGHUP});
  }
  step_ = Step::idle;
  s_.moving = false;
}

}  // namespace leaf::supervise
