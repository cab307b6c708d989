#include "agent/supervise/supervisor.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdio>

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

Millis refresh_delay(std::int64_t now, std::int64_t iat, std::int64_t exp, double fraction, double jitter_draw) {
  const double life_ms = static_cast<double>(std::max<std::int64_t>(0, exp - iat)) * 1000.0;
  const double jitter = std::clamp(jitter_draw, -1.0, 1.0) * 0.1 * life_ms;
  const double at_ms = static_cast<double>(iat) * 1000.0 + fraction * life_ms + jitter;
  const double delay = at_ms - static_cast<double>(now) * 1000.0;
  // delay + 0.5 truncated: std::llround for a positive delay, without libm (leaf-agent needs none).
  return Millis(delay <= 0 ? 0 : static_cast<Millis::rep>(delay + 0.5));
}

Millis fast_check_delay(Millis first, int done) {
  return first * (Millis::rep{1} << std::clamp(done, 0, 20));
}

Millis retry_delay(int failures) {
  Millis d(1000);
  for (int i = 1; i < failures && d < Millis(60000); ++i) d *= 2;
  return std::min(d, Millis(60000));
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
                 [&](const CredentialsRefreshed& r) { on_refreshed(r, out); },
                 [&](const CredentialsSourceChanged&) { on_source_changed(out); },
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
  identity_ = b.identity;
  if (!b.nats_version.empty()) nats_version_ = b.nats_version;
  if (p_.init_only) {
    phase_ = Phase::exited;
    out.push_back(CancelTimer{TimerKind::ready_deadline});
    out.push_back(Exit{0, ""});
    return;
  }
  phase_ = Phase::starting;
  out.push_back(Spawn{ChildId::nats});
  if (b.creds) {
    adopt(*b.creds, b.jitter_draw, out);
    if (b.creds->exp != 0 && !p_.refreshable) {
      out.push_back(Log{Log::warn, "credentials from " + b.creds->origin + " expire at " + format_utc(b.creds->exp) +
                                       " and cannot be refreshed by the agent: restart it with new ones before then"});
    }
  }
}

std::optional<Millis> Supervisor::adopt(const CredsLife& c, double jitter, Actions& out) {
  refresh_.current = c;
  refresh_.expiring = false;
  out.push_back(CancelTimer{TimerKind::expiry_alarm});
  out.push_back(CancelTimer{TimerKind::refresh});
  refresh_.next_at.reset();
  if (c.exp == 0) return std::nullopt;  // no expiry: refreshed only on SIGHUP
  const std::int64_t min_life_s = std::chrono::duration_cast<std::chrono::seconds>(p_.min_lifetime).count();
  const std::int64_t alarm_in_s = std::max<std::int64_t>(0, c.exp - min_life_s - c.checked_at);
  out.push_back(Schedule{TimerKind::expiry_alarm, Millis(alarm_in_s * 1000)});
  if (!p_.refreshable) return std::nullopt;
  // Short-lived credentials next to a long min_lifetime: refresh well before the alarm point.
  const Millis d = std::min(refresh_delay(c.checked_at, c.iat, c.exp, p_.refresh_fraction, jitter), Millis(alarm_in_s * 900));
  schedule_refresh(d, out);
  return d;
}

void Supervisor::schedule_refresh(Millis delay, Actions& out) {
  refresh_.next_at = now_ + delay;
  out.push_back(Schedule{TimerKind::refresh, delay});
}

void Supervisor::request_refresh(Actions& out) {
  if (phase_ == Phase::stopping || phase_ == Phase::bootstrapping || !bootstrapped_ || !refresh_.current) return;
  if (refresh_.in_flight) {
    refresh_.wanted = true;
    return;
  }
  refresh_.in_flight = true;
  refresh_.wanted = false;
  refresh_.next_at.reset();
  out.push_back(CancelTimer{TimerKind::refresh});
  out.push_back(RunRefresh{});
}

void Supervisor::on_source_changed(Actions& out) {
  if (phase_ == Phase::stopping || !bootstrapped_ || !refresh_.current || !p_.refreshable) return;
  if (refresh_.in_flight) {
    refresh_.wanted = true;
    return;
  }
  // A Secret update is several directory events: read once they have settled.
  schedule_refresh(p_.change_settle, out);
}

void Supervisor::on_refreshed(const CredentialsRefreshed& r, Actions& out) {
  refresh_.in_flight = false;
  refresh_.last_at = now_;
  if (phase_ == Phase::stopping || !refresh_.current) return;
  const CredsLife old = *refresh_.current;
  const auto expires_text = [](const CredsLife& c) {
    return c.exp == 0 ? std::string("never expire")
                      : "expire at " + format_utc(c.exp) + " (in " + format_duration(std::chrono::seconds(std::max<std::int64_t>(0, c.exp - c.checked_at))) + ")";
  };
  if (!r.ok) {
    ++refresh_.error_count;
    ++refresh_.failures_in_row;
    refresh_.last_result = "error";
    refresh_.last_error = r.error;
    const Millis d = retry_delay(refresh_.failures_in_row);
    CredsLife now_view = old;
    now_view.checked_at = r.creds.checked_at ? r.creds.checked_at : old.checked_at;
    out.push_back(Log{Log::error, "credentials refresh failed: " + r.error + "; keeping the credentials in use (user " +
                                      old.subject + ", " + expires_text(now_view) + "); retrying in " + seconds_text(d)});
    schedule_refresh(d, out);
  } else if (r.creds.subject == old.subject && r.creds.iat == old.iat && r.creds.exp == old.exp) {
    // The source still has the credentials in use (a file or endpoint not updated yet): look
    // again at their refresh point, or with the backoff once that has passed.
    refresh_.last_result = "unchanged";
    refresh_.failures_in_row = 0;  // the source answers again with what is in use: not an error
    refresh_.last_error.clear();
    ++refresh_.unchanged_in_row;
    Millis d = old.exp == 0 ? Millis(0) : refresh_delay(r.creds.checked_at, old.iat, old.exp, p_.refresh_fraction, r.jitter_draw);
    if (d.count() == 0 && old.exp != 0) d = retry_delay(refresh_.unchanged_in_row);
    if (d.count() > 0) schedule_refresh(d, out);
  } else {
    ++refresh_.ok_count;
    refresh_.failures_in_row = 0;
    refresh_.unchanged_in_row = 0;
    refresh_.last_result = "ok";
    refresh_.last_error.clear();
    const auto d = adopt(r.creds, r.jitter_draw, out);
    out.push_back(Log{Log::info, "credentials rotated from " + r.creds.origin + ": user " + r.creds.subject + ", " +
                                     expires_text(r.creds) + "; nats-server uses them at its next leaf connect" +
                                     (d ? "; next refresh in " + seconds_text(*d) : std::string())});
  }
  if (refresh_.wanted) {
    refresh_.wanted = false;
    request_refresh(out);
  }
}

void Supervisor::on_child_started(const ChildStarted& c, Actions& out) {
  running_[static_cast<int>(c.child)] = true;
  term_sent(c.child) = false;
  if (c.child == ChildId::host) {
    host_started_ = true;
    return;
  }
  forget_leaf();
  leaf_closed_ = false;
  fresh_after_seq_ = check_seq_;  // checks begun before this start were about another nats-server
  config_error_.clear();
  if (phase_ == Phase::stopping) return stop_next(out);  // raced with a stop: stop it too
  // The log lines are the fast path; this poll is the fallback.
  out.push_back(Schedule{TimerKind::check, Millis(200)});
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
    return stop(out);
  }
  // nats-server
  out.push_back(CancelTimer{TimerKind::stop_nats});
  if (phase_ == Phase::stopping) return stop_next(out);
  if (!was_running && c.error.empty()) return;
  if (ready_) set_ready(false, "nats-server exited with code " + std::to_string(c.code), out);
  out.push_back(CancelTimer{TimerKind::check});
  out.push_back(CancelTimer{TimerKind::stable});
  check_in_flight_ = false;
  ++check_seq_;  // the answer of a check in flight, late, would be about the dead server
  if (!c.error.empty()) return fail(6, c.error, out);
  if (!ever_ready_) {
    if (!config_error_.empty()) {
      // What `nats-server -t` would have said: the built-in templates are not -t'ed at each start.
      // `run` checks the TLS files' PEM shape only (core/pem.hpp): their contents are judged here.
      const auto says = [this](const char* words) { return config_error_.find(words) != std::string::npos; };
      const std::string hint =
          says("unknown field")          ? "; the installed nats-server is too old for an option in this config"
          : says("root ca certificate")  ? "; upstream.ca_file holds no certificate nats-server can use"
          : says("certificate/key pair") ? "; check upstream.cert_file and upstream.key_file (a matching, unencrypted pair)"
                                         : "; check agent.template and the values it uses (leaf-agent render shows the config)";
      return fail(3, "nats-server rejected the rendered config: " + config_error_.substr(13) + hint, out);
    }
    return fail(6, "nats-server exited with code " + std::to_string(c.code) + " before ready" +
                       (last_nats_line_.empty() ? " and said nothing; is agent.nats_server a nats-server binary?"
                                                : ": " + last_nats_line_),
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
  if (l.level >= NatsLevel::warn || l.kind != NatsLineKind::other) last_nats_line_ = l.message;
  switch (l.kind) {
    case NatsLineKind::config_error:
      config_error_ = l.message;
      return;
    case NatsLineKind::creds_malformed:
      return fail(4, "nats-server could not use the credentials file the agent wrote (" + l.message +
                         "); check that the state_dir is not shared with another writer",
                  out);
    case NatsLineKind::auth_expired:
      if (refresh_.ok_count > 0 && !refresh_.expiring) {
        // Rotation as designed: the hub closed the leaf on the JWT it connected with; the file
        // already holds the newer credentials, read at the reconnect.
        out.push_back(Log{Log::info, "the hub expired the previous credentials; the leaf reconnects with the rotated ones (user " +
                                         refresh_.current->subject + ")"});
        lose_leaf("the leaf reconnects with rotated credentials", out);
        return want_check(out);
      }
      [[fallthrough]];
    case NatsLineKind::auth_refused: {
      const std::string why = l.kind == NatsLineKind::auth_expired ? "Authentication Expired" : "Authorization Violation";
      const std::string msg = "the upstream refused the leaf credentials (" + why + ")" +
                              (identity_.empty() ? "" : " for " + identity_) +
                              ": check that the hub trusts this account and the user is not revoked or expired";
      if (msg != auth_error_) out.push_back(Log{Log::error, msg});
      auth_error_ = msg;
      lose_leaf(msg, out);  // whatever /leafz lists now is being refused
      return want_check(out);
    }
    case NatsLineKind::leaf_rejected:
      // Not accepted, whatever its INFO made the leaf log: nothing about this connection counts.
      end_connection("the upstream rejected the leaf connection: " + l.message, out);
      want_diagnosis(out);
      return want_check(out);
    case NatsLineKind::leaf_error:
      // An -ERR does not end a leaf connection (client.go processErr): a permissions violation
      // or a subscription limit leaves it up and accepted. If the hub drops it, the closed line
      // says so.
      want_diagnosis(out);
      return want_check(out);
    case NatsLineKind::leaf_accepted:
      // The hub's INFO after CONNECT, from the server's own code path; nats-server lists the
      // connection (/leafz) before it logs this line (leafnode.go, addLeafNodeConnection). It is
      // not yet the verdict: a hub can send that INFO and refuse right behind it
      // (leafnodes.min_version sends INFO, then -ERR, and holds the connection 5 s). A hub that
      // accepts sends its subscription interest with the INFO: the check this line asks for sees
      // it on /leafz, or the fast checks after it do. Its wording differs between releases
      // (nats_log.cpp): it only makes the agent look sooner; the verdict is on_check's.
      accepted_line_ = true;
      if (p_.acceptance_line) begin_fast_checks(p_.interest_check, p_.interest_checks);
      return want_check(out);
    case NatsLineKind::leaf_connected:
      leaf_closed_ = false;
      fresh_after_seq_ = check_seq_;  // a check that counts at the acceptance is one of this connection
      // The built-in template's leaf logs the acceptance line next, and that line brings the
      // checks; a check now would only load nats-server during its TLS handshake with the hub
      // (it answered /leafz in 2.5 ms there, against 0.4 ms after). A user template's leaf may
      // log none (one that extends JetStream into the hub's domain): then /leafz shows the
      // hub's acceptance a moment later, so look now and again at doubling intervals. Doubling,
      // and only then: 100 agents starting on one node would spend on checks the CPU their
      // nats-servers need to come up (issue #10, P6).
      if (p_.acceptance_line) {
        // Should a release log no acceptance line this agent knows, these checks find the hub's
        // verdict on /leafz anyway; the line, when it comes (within a few ms), replaces them.
        begin_fast_checks(p_.connect_check, p_.connect_checks);
        if (!check_in_flight_) out.push_back(Schedule{TimerKind::check, fast_check_delay(fast_first_, 0)});
        fast_checks_left_ = p_.connect_checks - 1;
        return;
      }
      begin_fast_checks(p_.fast_check, p_.fast_checks);
      return want_check(out);
    case NatsLineKind::leaf_closed:
      // Readiness drops at once; the reconnect takes at least leafnodes.reconnect (1 s), and its
      // own lines bring the next checks (no burst of checks meanwhile: 100 agents on one node
      // would spend the CPU their reconnects need). nats-server writes this line before it takes
      // the connection off /leafz (client.go, closeConnection; the teardown follows): until the
      // next connection's first line, what /leafz shows is the closed one's.
      end_connection("leaf connection closed; nats-server reconnects", out);
      return want_check(out);
    case NatsLineKind::server_ready:
      return want_check(out);  // connects the local client before the leaf is up
    case NatsLineKind::server_version:
      nats_version_ = l.version;  // the running server's own word, over what --version said
      return;
    case NatsLineKind::other: return;
  }
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

void Supervisor::want_check(Actions& out) {
  if (phase_ == Phase::stopping || phase_ == Phase::bootstrapping || !running(ChildId::nats)) return;
  if (check_in_flight_) {
    check_wanted_ = true;
    return;
  }
  check_in_flight_ = true;
  check_wanted_ = false;
  out.push_back(CancelTimer{TimerKind::check});
  out.push_back(RunCheck{++check_seq_});
}

void Supervisor::on_check(const CheckResult& r, Actions& out) {
  if (r.seq != check_seq_) return;  // begun before a nats-server exit: another server's answer
  check_in_flight_ = false;
  if (phase_ == Phase::stopping || !running(ChildId::nats)) return;  // a result about a server that is gone
  last_check_ = r;  // its failure may be reworded below: what /readyz says
  last_check_seq_ = r.seq;
  bool leaf_ok = p_.dev;
  const std::string& upstream = r.upstream;
  // What /leafz showed counts only from a check begun since this nats-server started and its
  // current leaf connection's first line; before that it was another connection's.
  const bool listed = r.leaf_listed && last_check_seq_ > fresh_after_seq_;
  if (!p_.dev && leaf_closed_) {
    last_check_.failure = leaf_lost_why_;
  } else if (!p_.dev) {
    // The hub has accepted the leaf when the leaf's own /leafz lists this connection (a
    // soliciting leaf registers it only on the hub's INFO reply to CONNECT, since 2.2) and shows
    // the hub's interest: the hub sends its subscriptions, its loop-detection subject $LDS.<id>
    // at least (unconditionally, and exempt from permissions on the leaf), only after CONNECT
    // passed its checks (leafnode.go processLeafNodeConnect, initLeafNodeSmapAndSendSubs, 2.9 to
    // 2.15). A hub with leafnodes.min_version sends the INFO, then -ERR, and no interest: listed,
    // never accepted. No log line decides and no time listed counts, with any template, on
    // every release: the lines only bring the checks sooner.
    leaf_ok = listed && r.leaf_accepted;
    if (leaf_ok) {
      auth_error_.clear();
    } else if (listed) {
      last_check_.failure = "leaf connection to " + r.upstream + " not accepted by the hub yet";
    }
  }
  if (leaf_ok && !p_.dev) upstream_ = upstream;
  const bool now_ready = r.server_ok && r.healthz_ok && leaf_ok && r.client_ok;
  if (now_ready && !ready_) {
    set_ready(true, p_.dev ? "dev nats-server up" : "leaf connected to " + upstream, out);
  } else if (!now_ready && ready_) {
    const std::string& why = last_check_.failure;
    set_ready(false, why.empty() ? "readiness check failed" : why, out);
  }
  if (check_wanted_) {
    check_wanted_ = false;
    return want_check(out);
  }
  next_check(out);
}

void Supervisor::begin_fast_checks(Millis first, int count) {
  fast_first_ = first;
  fast_total_ = count;
  fast_checks_left_ = count;
}

void Supervisor::forget_leaf() { accepted_line_ = false; }

void Supervisor::end_connection(const std::string& why, Actions& out) {
  if (!leaf_closed_) lose_leaf(why, out);  // after the hub's rejection, that stays the reason given
  leaf_closed_ = true;
  fresh_after_seq_ = check_seq_;
  fast_checks_left_ = 0;  // nothing to look for on a connection the hub rejected or that closed
}

void Supervisor::lose_leaf(const std::string& why, Actions& out) {
  forget_leaf();
  fast_checks_left_ = 0;  // refused: the fast checks were looking for an acceptance that will not come
  leaf_lost_why_ = why;
  last_check_.failure = why;  // what /readyz says until the next check
  if (ready_) set_ready(false, why, out);  // at once, not at the next check's result
}

void Supervisor::next_check(Actions& out) {
  Millis delay = p_.check_interval_waiting;
  if (ready_) {
    delay = p_.check_interval_ready;
  } else if (fast_checks_left_ > 0) {
    // The built-in template's fast checks follow the acceptance line, where the hub's interest
    // is a millisecond or two away (two starts in sixteen missed it at the first check, and
    // waited 5 ms more for the next), and, slower, the connection's first line; a user
    // template's follow the connection's first line.
    delay = fast_check_delay(fast_first_, fast_total_ - fast_checks_left_--);
  } else if (p_.acceptance_line && !accepted_line_) {
    // Until this connection's acceptance line (or after its close) nothing a check could see
    // makes the built-in template's leaf ready: its lines announce each step and bring the
    // checks. Looking every 500 ms meanwhile cost each of 100 agents starting on one node a
    // check twice a second, and their nats-servers the answers, for seconds (issue #10, P6).
    delay = p_.check_interval_ready;
  }
  out.push_back(Schedule{TimerKind::check, delay});
}

void Supervisor::set_ready(bool ready, const std::string& why, Actions& out) {
  ready_ = ready;
  out.push_back(SetReady{ready, why});
  if (ready) {
    phase_ = Phase::ready;
    const bool first = !ever_ready_;
    ever_ready_ = true;
    if (first) {
      ready_after_ = std::chrono::duration_cast<Millis>(now_ - started_at_);
      out.push_back(CancelTimer{TimerKind::ready_deadline});
      out.push_back(CancelTimer{TimerKind::diagnose});
      diagnosis_ = {};
    }
    out.push_back(Schedule{TimerKind::stable, p_.stable_after});
    out.push_back(CancelTimer{TimerKind::leaf_down});
    leaf_down_since_.reset();
    if (p_.has_host && !host_started_) {
      host_started_ = true;
      out.push_back(Spawn{ChildId::host});
    }
  } else {
    if (phase_ != Phase::stopping) phase_ = ever_ready_ ? Phase::degraded : Phase::starting;
    out.push_back(CancelTimer{TimerKind::stable});
    if (p_.leaf_down_restart.count() > 0 && phase_ == Phase::degraded && !leaf_down_since_) {
      leaf_down_since_ = now_;
      out.push_back(Schedule{TimerKind::leaf_down, p_.leaf_down_restart});
    }
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
      if (!auth_error_.empty()) return fail(4, auth_error_, out);
      if (diagnosis_.code != 0) return fail(diagnosis_.code, diagnosis_.error, out);  // the diagnosis's finding
      const std::string why = last_check_.failure.empty() ? "no readiness check has passed yet" : last_check_.failure;
      return fail(7, within + ": " + why, out);
    }
    case TimerKind::check:
      return want_check(out);
    case TimerKind::diagnose:
      return want_diagnosis(out);
    case TimerKind::restart_nats:
      if (phase_ != Phase::stopping) out.push_back(Spawn{ChildId::nats});
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
      return request_refresh(out);
    case TimerKind::expiry_alarm: {
      if (phase_ == Phase::stopping || !refresh_.current) return;
      refresh_.expiring = true;
      const auto& c = *refresh_.current;
      std::string why = !p_.refreshable ? "the source cannot refresh them"
                        : refresh_.last_error.empty() ? "no new credentials yet"
                                                      : "the last refresh failed: " + refresh_.last_error;
      out.push_back(Log{Log::error, "credentials of user " + c.subject + " expire at " + format_utc(c.exp) +
                                        ", within credentials.min_lifetime, and have not been renewed (" + why +
                                        "); the leaf will be disconnected when they expire"});
      return;
    }
    case TimerKind::leaf_down:
      if (ready_ || phase_ == Phase::stopping || !running(ChildId::nats)) return;
      out.push_back(Log{Log::warn, "the leaf has been down for " + seconds_text(p_.leaf_down_restart) +
                                       " (agent.leaf_down_restart); restarting nats-server"});
      leaf_down_since_.reset();
      restart_requested_ = true;
      out.push_back(SendSignal{ChildId::nats, SIGTERM});
      out.push_back(Schedule{TimerKind::stop_nats, p_.stop_timeout});  // a hung server gets SIGKILL
      return;
  }
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
  if (sig == SIGHUP) {
    if (!refresh_.current) return;  // bootstrapping, or dev mode: nothing to refresh yet
    if (!p_.refreshable) {
      out.push_back(Log{Log::warn, "SIGHUP: credentials from " + refresh_.current->origin + " cannot be refreshed by the agent"});
      return;
    }
    out.push_back(Log{Log::info, "SIGHUP: refreshing the credentials now"});
    request_refresh(out);
  }
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
    for (auto k : {TimerKind::check, TimerKind::restart_nats, TimerKind::ready_deadline, TimerKind::stable,
                   TimerKind::leaf_down, TimerKind::refresh, TimerKind::expiry_alarm, TimerKind::diagnose}) {
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
