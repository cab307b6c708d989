#include "agent/supervise/supervisor.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "agent/core/duration.hpp"

namespace leaf::supervise {

namespace {
template <class... F>
struct Overload : F... {
  using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

std::string seconds_text(Millis d) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g s", static_cast<double>(d.count()) / 1000.0);
  return b;
}

constexpr ChildId kStopOrder[kChildren] = {ChildId::host, ChildId::nats};
}  // namespace

const char* child_name(ChildId id) { return id == ChildId::host ? "host" : "nats-server"; }

const char* phase_name(Phase p) {
  switch (p) {
    case Phase::bootstrapping: return "bootstrapping";
    case Phase::starting: return "starting";
    case Phase::ready: return "ready";
    case Phase::degraded: return "degraded";
    case Phase::stopping: return "stopping";
    case Phase::exited: return "exited";
  }
  return "?";
}

Millis restart_delay(int restarts_since_stable, Millis max) {
  if (restarts_since_stable <= 0) return Millis(0);
  Millis d(1000);
  for (int i = 1; i < restarts_since_stable && d < max; ++i) d *= 2;
  return std::min(d, max);
}




Actions Supervisor::on(const Event& e, TimePoint now) {
  now_ = now;
  Actions out;
  if (phase_ == Phase::exited) return out;
  std::visit(Overload{
                 [&](const Started&) { on_started(out); },
                 [&](const BootstrapDone& b) { on_bootstrap(b, out); },
                 [&](const BootstrapProgress& p) { progress_ = p; },
                 [&](const ChildStarted& c) { on_child_started(c, out); },
                 [&](const ChildExited& c) { on_child_exited(c, out); },
                 [&](const LogLine& l) { on_line(l.line, out); },
                 [&](const CheckResult& r) { on_check(r, out); },
                 [&](const TimerFired& t) { on_timer(t.kind, out); },
                 [&](const SignalReceived& s) { on_signal(s.sig, out); },
                 [&](const CredentialsRefreshed& r) {
                   refresh_.refreshed(r, now_, out);
                   if (r.ok && r.staged && phase_ != Phase::stopping) rotation_.staged(r.creds.subject, now_, out);
                   if (r.ok && r.toggle && phase_ != Phase::stopping) rotation_.toggle(r.creds.subject, now_, out);
                 },
                 [&](const CredentialsSourceChanged&) { refresh_.source_changed(now_, out); },
                 [&](const UpstreamDiagnosed& d) { on_diagnosed(d, out); },
                 [&](const Fatal& f) { fail(70, "internal error: " + f.error, out); },
             },
             e);
  return out;
}

void Supervisor::on_started(Actions& out) {
  started_at_ = now_;
  phase_ = Phase::bootstrapping;
  out.push_back(RunBootstrap{});
  out.push_back(Schedule{TimerKind::ready_deadline, p_.ready_timeout});
}

void Supervisor::on_bootstrap(const BootstrapDone& b, Actions& out) {
  if (phase_ != Phase::bootstrapping) return;  // stopping: the result no longer matters
  if (!b.ok) return fail(b.code, b.error, out);
  bootstrapped_ = true;
  readiness_.set_identity(b.identity);
  if (!b.nats_version.empty()) nats_version_ = b.nats_version;
  if (p_.init_only) {
    phase_ = Phase::exited;
    out.push_back(CancelTimer{TimerKind::ready_deadline});
    out.push_back(Exit{0, ""});
    return;
  }
  phase_ = Phase::starting;
  out.push_back(Spawn{ChildId::nats});
  if (b.creds) refresh_.start(*b.creds, b.jitter_draw, now_, out);
}






void Supervisor::on_child_started(const ChildStarted& c, Actions& out) {
  running_[static_cast<int>(c.child)] = true;
  term_sent(c.child) = false;
  if (c.child == ChildId::host) {
    host_started_ = true;
    return;
  }
  readiness_.server_started(out);
  if (phase_ == Phase::stopping) return stop_next(out);  // raced with a stop: stop it too
  // The upstream is probed only when something looks wrong (a leaf error line), or when half of
  // ready_timeout has passed without ready: a healthy start costs no extra TLS handshake.
  if (!ever_ready_ && !p_.dev) out.push_back(Schedule{TimerKind::diagnose, p_.ready_timeout / 2});
}

void Supervisor::on_child_exited(const ChildExited& c, Actions& out) {
  const int i = static_cast<int>(c.child);
  const bool was_running = running_[i];
  running_[i] = false;
  if (c.child == ChildId::host) {
    out.push_back(CancelTimer{TimerKind::stop_host});
    if (!c.error.empty()) out.push_back(Log{Log::error, c.error});
    out.push_back(Log{Log::info, "host exited with code " + std::to_string(c.code)});
    if (!exit_code_set_) exit_code_ = c.code, exit_code_set_ = true;  // the host's outcome is ours
    out.push_back(SendSignal{ChildId::host, SIGTERM, /*leftovers=*/true});  // what it left in its group
    return stop(out);
  }
  // nats-server
  out.push_back(CancelTimer{TimerKind::stop_nats});
  if (phase_ == Phase::stopping) return stop_next(out);
  if (!was_running && c.error.empty()) return;
  if (ready_) set_ready(false, "nats-server exited with code " + std::to_string(c.code), out);
  readiness_.server_exited(out);
  rotation_.server_exited(out);
  out.push_back(CancelTimer{TimerKind::stable});
  if (!c.error.empty()) return fail(6, c.error, out);
  if (!ever_ready_) {
    if (const std::string& config_error = readiness_.config_error(); !config_error.empty()) {
      // What `nats-server -t` would have said: the built-in templates are not -t'ed at each start.
      // `run` checks the TLS files' PEM shape only (core/pem.hpp): their contents are judged here.
      const auto says = [&config_error](const char* words) { return config_error.find(words) != std::string::npos; };
      const std::string hint =
          says("unknown field")          ? "; the installed nats-server is too old for an option in this config"
          : says("root ca certificate")  ? "; upstream.ca_file holds no certificate nats-server can use"
          : says("certificate/key pair") ? "; check upstream.cert_file and upstream.key_file (a matching, unencrypted pair)"
                                         : "; check agent.template and the values it uses (leaf-agent render shows the config)";
      return fail(3, "nats-server rejected the rendered config: " + config_error.substr(13) + hint, out);
    }
    return fail(6, "nats-server exited with code " + std::to_string(c.code) + " before ready" +
                       (readiness_.last_line().empty() ? " and said nothing; is agent.nats_server a nats-server binary?"
                                                       : ": " + readiness_.last_line()),
                out);
  }
  phase_ = Phase::degraded;
  ++restarts_;
  const Millis delay = restart_requested_ ? Millis(0) : restart_delay(restarts_since_stable_, p_.restart_backoff_max);
  restart_requested_ = false;
  ++restarts_since_stable_;
  out.push_back(Log{Log::error, "nats-server exited with code " + std::to_string(c.code) + "; restarting" +
                                    (delay.count() ? " in " + seconds_text(delay) : " now")});
  out.push_back(Schedule{TimerKind::restart_nats, delay});
}


void Supervisor::on_line(const NatsLine& l, Actions& out) {
  Actions checks;
  const auto& in_use = refresh_.state().current;
  const std::string subject = in_use ? in_use->subject : std::string();
  rotation_.line(l, refresh_.rotated(), subject, now_, out);
  const Judgement j = readiness_.line(l, refresh_.rotated(), subject, checks);
  apply(j, checks, out);
  if (auto why = rotation_.take_restart(); !why.empty()) restart_nats(why, out);
}

void Supervisor::on_check(const CheckResult& r, Actions& out) {
  Actions checks;
  const Judgement j = readiness_.check_done(r, checks);
  if (!j.ready) return;  // dropped: about another server, or stopping
  apply(j, checks, out);
  readiness_.after_check(ready_, out);
}

void Supervisor::apply(const Judgement& j, Actions& after, Actions& out) {
  if (j.fail_code != 0) return fail(j.fail_code, j.why, out);
  if (j.ready && *j.ready != ready_) set_ready(*j.ready, j.why, out);
  if (j.diagnose) want_diagnosis(out);
  out.insert(out.end(), after.begin(), after.end());
}

void Supervisor::want_diagnosis(Actions& out) {
  if (p_.dev || ever_ready_ || !bootstrapped_ || phase_ == Phase::stopping || diagnosis_in_flight_) return;
  diagnosis_in_flight_ = true;
  out.push_back(CancelTimer{TimerKind::diagnose});
  out.push_back(RunDiagnosis{});
}

void Supervisor::on_diagnosed(const UpstreamDiagnosed& d, Actions& out) {
  diagnosis_in_flight_ = false;
  if (ever_ready_ || phase_ == Phase::stopping) return;
  if (d.ok) {
    if (diagnosis_.code != 0) out.push_back(Log{Log::info, "upstream reachable again with TLS verified"});
    diagnosis_ = {};
    return;
  }
  if (d.error != diagnosis_.error) {
    out.push_back(Log{Log::warn, d.error + "; retrying until agent.ready_timeout (" + seconds_text(p_.ready_timeout) + ")"});
  }
  diagnosis_ = {5, d.error};
  out.push_back(Schedule{TimerKind::diagnose, p_.diagnose_retry});
}








void Supervisor::set_ready(bool ready, const std::string& why, Actions& out) {
  ready_ = ready;
  // The old connection's close during a move to rotated credentials is planned: the link is back
  // within milliseconds; no restart backoff or leaf_down clock is touched by it.
  const bool planned = !ready && rotation_.state().moving && phase_ != Phase::stopping;
  out.push_back(SetReady{ready, why, planned});
  if (ready) {
    const bool after_move = std::exchange(planned_drop_, false);
    phase_ = Phase::ready;
    rotation_.ready(now_, out);  // a move to rotated credentials completes
    const bool first = !ever_ready_;
    ever_ready_ = true;
    if (first) {
      ready_after_ = std::chrono::duration_cast<Millis>(now_ - started_at_);
      out.push_back(CancelTimer{TimerKind::ready_deadline});
      out.push_back(CancelTimer{TimerKind::diagnose});
      diagnosis_ = {};
    }
    if (!after_move) out.push_back(Schedule{TimerKind::stable, p_.stable_after});  // (still running)
    out.push_back(CancelTimer{TimerKind::leaf_down});
    leaf_down_since_.reset();
    if (p_.has_host && !host_started_) {
      host_started_ = true;
      out.push_back(Spawn{ChildId::host});
    }
  } else {
    if (phase_ != Phase::stopping) phase_ = ever_ready_ ? Phase::degraded : Phase::starting;
    if (planned) {
      planned_drop_ = true;
      return;
    }
    unplanned_drop(out);
  }
}

void Supervisor::unplanned_drop(Actions& out) {
  planned_drop_ = false;
  out.push_back(CancelTimer{TimerKind::stable});
  if (p_.leaf_down_restart.count() > 0 && phase_ == Phase::degraded && !leaf_down_since_) {
    leaf_down_since_ = now_;
    out.push_back(Schedule{TimerKind::leaf_down, p_.leaf_down_restart});
  }
}

void Supervisor::on_timer(TimerKind k, Actions& out) {
  switch (k) {
    case TimerKind::ready_deadline: {
      if (ever_ready_ || phase_ == Phase::stopping) return;
      const std::string within = "not ready within agent.ready_timeout (" + seconds_text(p_.ready_timeout) + ")";
      if (!bootstrapped_) {
        if (progress_.code != 0) return fail(progress_.code, progress_.error, out);
        return fail(7, within + ": still fetching credentials or checking the upstream", out);
      }
      if (!auth_error().empty()) return fail(4, auth_error(), out);
      if (diagnosis_.code != 0) return fail(diagnosis_.code, diagnosis_.error, out);  // the diagnosis's finding
      const std::string& failure = last_check().failure;
      const std::string why = failure.empty() ? "no readiness check has passed yet" : failure;
      return fail(7, within + ": " + why, out);
    }
    case TimerKind::check:
      return readiness_.want_check(out);
    case TimerKind::diagnose:
      return want_diagnosis(out);
    case TimerKind::rotation:
      rotation_.deadline(out);
      // A move whose link is not back by its deadline is no planned moment any more: the leaf is
      // down as at any other time (the stable period ends, leaf_down_restart counts).
      if (planned_drop_ && !ready_ && !rotation_.state().moving && phase_ != Phase::stopping) unplanned_drop(out);
      return;
    case TimerKind::restart_nats:
      if (phase_ != Phase::stopping) out.push_back(Spawn{ChildId::nats, /*again=*/true});
      return;
    case TimerKind::stop_host:
    case TimerKind::stop_nats: {
      const ChildId c = k == TimerKind::stop_host ? ChildId::host : ChildId::nats;
      if (!running(c)) return;
      out.push_back(Log{Log::warn, std::string(child_name(c)) + " did not stop within " + seconds_text(p_.stop_timeout) +
                                       "; killing it"});
      out.push_back(SendSignal{c, SIGKILL});
      return;
    }
    case TimerKind::stable:
      restarts_since_stable_ = 0;
      return;
    case TimerKind::refresh:
      if (phase_ == Phase::stopping || !bootstrapped_) return;
      return refresh_.request(now_, out);
    case TimerKind::expiry_alarm:
      if (phase_ == Phase::stopping) return;
      return refresh_.expiry_alarm(out);
    case TimerKind::leaf_down:
      if (ready_ || phase_ == Phase::stopping || !running(ChildId::nats)) return;
      leaf_down_since_.reset();
      return restart_nats("the leaf has been down for " + seconds_text(p_.leaf_down_restart) + " (agent.leaf_down_restart)",
                          out, Log::warn);
  }
}

void Supervisor::restart_nats(const std::string& why, Actions& out, Log::Level level) {
  if (phase_ == Phase::stopping || !running(ChildId::nats)) return;
  out.push_back(Log{level, why + "; restarting nats-server"});
  restart_requested_ = true;  // at once, whatever the backoff
  out.push_back(SendSignal{ChildId::nats, SIGTERM});
  out.push_back(Schedule{TimerKind::stop_nats, p_.stop_timeout});  // a hung server gets SIGKILL
}

void Supervisor::on_signal(int sig, Actions& out) {
  if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
    const std::string name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGQUIT";
    if (p_.init_only) {
      // `init` interrupted has written nothing usable: never the 0 that means "files written".
      if (!exit_code_set_) exit_code_ = 128 + sig, exit_code_set_ = true;
      if (phase_ != Phase::stopping) out.push_back(Log{Log::info, "received " + name + ", stopping before the files were written"});
      return stop(out);
    }
    if (phase_ != Phase::stopping) {
      out.push_back(Log{Log::info, "received " + name + ", shutting down (host first, then nats-server)"});
    }
    return stop(out);
  }
  if (sig == SIGUSR1 || sig == SIGUSR2) {
    if (running(ChildId::host)) out.push_back(SendSignal{ChildId::host, sig});  // the host's to handle
    return;
  }
  if (sig == SIGHUP && phase_ != Phase::stopping) refresh_.sighup(now_, out);
}

void Supervisor::fail(int code, const std::string& error, Actions& out) {
  if (phase_ == Phase::stopping) return;  // the first failure is the one reported
  exit_code_ = code;
  exit_code_set_ = true;
  exit_error_ = error;
  out.push_back(Log{Log::error, error});
  stop(out);
}

void Supervisor::stop(Actions& out) {
  if (phase_ != Phase::stopping) {
    if (ready_) set_ready(false, "stopping", out);
    phase_ = Phase::stopping;
    readiness_.stop();
    refresh_.stop(out);
    rotation_.stop(out);
    for (auto k : {TimerKind::check, TimerKind::restart_nats, TimerKind::ready_deadline, TimerKind::stable,
                   TimerKind::leaf_down, TimerKind::diagnose}) {
      out.push_back(CancelTimer{k});
    }
    if (!bootstrapped_) out.push_back(CancelBootstrap{});
  }
  stop_next(out);
}

void Supervisor::stop_next(Actions& out) {
  for (ChildId c : kStopOrder) {
    if (!running(c)) continue;
    if (!term_sent(c)) {
      term_sent(c) = true;
      out.push_back(SendSignal{c, SIGTERM});
      out.push_back(Schedule{c == ChildId::host ? TimerKind::stop_host : TimerKind::stop_nats, p_.stop_timeout});
    }
    return;  // one at a time: the next goes when this one has exited
  }
  phase_ = Phase::exited;
  if (!exit_code_set_) exit_code_ = 0;
  out.push_back(Exit{exit_code_, exit_error_});
}

}  // namespace leaf::supervise
