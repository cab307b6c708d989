#include "agent/supervise/readiness.hpp"

#include <algorithm>

namespace leaf::supervise {

Millis fast_check_delay(Millis first, int done) {
  return first * (Millis::rep{1} << std::clamp(done, 0, 20));
}

void Readiness::server_started(Actions& out) {
  running_ = true;
  accepted_line_ = false;
  leaf_closed_ = false;
  fresh_after_seq_ = check_seq_;  // checks begun before this start were about another nats-server
  config_error_.clear();
  if (stopped_) return;
  // The log lines are the fast path; this poll is the fallback.
  out.push_back(Schedule{TimerKind::check, Millis(200)});
}

void Readiness::server_exited(Actions& out) {
  running_ = false;
  out.push_back(CancelTimer{TimerKind::check});
  check_in_flight_ = false;
  ++check_seq_;  // the answer of a check in flight, late, would be about the dead server
}

void Readiness::want_check(Actions& out) {
  if (stopped_ || !running_) return;
  if (check_in_flight_) {
    check_wanted_ = true;
    return;
  }
  check_in_flight_ = true;
  check_wanted_ = false;
  out.push_back(CancelTimer{TimerKind::check});
  out.push_back(RunCheck{++check_seq_});
}

void Readiness::begin_fast_checks(Millis first, int count) {
  fast_first_ = first;
  fast_total_ = count;
  fast_checks_left_ = count;
}

Judgement Readiness::end_connection(const std::string& why) {
  Judgement j;
  if (!leaf_closed_) j = lose_leaf(why);  // after the hub's rejection, that stays the reason given
  leaf_closed_ = true;
  fresh_after_seq_ = check_seq_;
  fast_checks_left_ = 0;  // nothing to look for on a connection the hub rejected or that closed
  return j;
}

Judgement Readiness::hub_ends_connection(const std::string& why) {
  // The hub's refusal or expiry ends this connection; its close line follows. A check begun
  // before either line may still list it on /leafz (with a 50 ms reconnect, one completed a
  // rotation at 0 ms): none counts until the next connection's first line.
  Judgement j = lose_leaf(why);
  leaf_closed_ = true;
  fresh_after_seq_ = check_seq_;
  return j;
}

Judgement Readiness::lose_leaf(const std::string& why) {
  accepted_line_ = false;
  fast_checks_left_ = 0;  // refused: the fast checks were looking for an acceptance that will not come
  leaf_lost_why_ = why;
  last_check_.failure = why;  // what /readyz says until the next check
  Judgement j;
  j.ready = false;  // at once, not at the next check's result
  j.why = why;
  return j;
}

Judgement Readiness::line(const NatsLine& l, bool rotated, const std::string& subject, Actions& out) {
  Judgement j;
  if (l.level >= NatsLevel::warn || l.kind != NatsLineKind::other) last_nats_line_ = l.message;
  switch (l.kind) {
    case NatsLineKind::config_error:
      config_error_ = l.message;
      return j;
    case NatsLineKind::creds_malformed:
      j.fail_code = 4;
      j.why = "nats-server could not use the credentials file the agent wrote (" + l.message +
              "); check that the state_dir is not shared with another writer";
      return j;
    case NatsLineKind::auth_expired:
      if (rotated) {
        // Rotation as designed: the hub closed the leaf on the JWT it connected with; the file
        // already holds the newer credentials, read at the reconnect.
        out.push_back(Log{Log::info, "the hub expired the previous credentials; the leaf reconnects with the rotated ones (user " +
                                         subject + ")"});
        want_check(out);
        return hub_ends_connection("the leaf reconnects with rotated credentials");
      }
      [[fallthrough]];
    case NatsLineKind::auth_refused: {
      const std::string why = l.kind == NatsLineKind::auth_expired ? "Authentication Expired" : "Authorization Violation";
      const std::string msg = "the upstream refused the leaf credentials (" + why + ")" +
                              (identity_.empty() ? "" : " for " + identity_) +
                              ": check that the hub trusts this account and the user is not revoked or expired";
      if (msg != auth_error_) out.push_back(Log{Log::error, msg});
      auth_error_ = msg;
      want_check(out);
      return hub_ends_connection(msg);  // whatever /leafz lists now is being refused
    }
    case NatsLineKind::leaf_rejected:
      // Not accepted, whatever its INFO made the leaf log: nothing about this connection counts.
      j = end_connection("the upstream rejected the leaf connection: " + l.message);
      j.diagnose = true;
      want_check(out);
      return j;
    case NatsLineKind::leaf_error:
      // An -ERR does not end a leaf connection (client.go processErr): a permissions violation
      // or a subscription limit leaves it up and accepted. If the hub drops it, the closed line
      // says so.
      j.diagnose = true;
      want_check(out);
      return j;
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
      want_check(out);
      return j;
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
        return j;
      }
      begin_fast_checks(p_.fast_check, p_.fast_checks);
      want_check(out);
      return j;
    case NatsLineKind::leaf_closed:
      // Readiness drops at once; the reconnect takes at least leafnodes.reconnect (1 s), and its
      // own lines bring the next checks (no burst of checks meanwhile: 100 agents on one node
      // would spend the CPU their reconnects need). nats-server writes this line before it takes
      // the connection off /leafz (client.go, closeConnection; the teardown follows): until the
      // next connection's first line, what /leafz shows is the closed one's.
      want_check(out);
      return end_connection("leaf connection closed; nats-server reconnects");
    case NatsLineKind::server_ready:
      want_check(out);  // connects the local client before the leaf is up
      return j;
    case NatsLineKind::server_version:
      nats_version_ = l.version;  // the running server's own word
      return j;
    case NatsLineKind::reloaded:
    case NatsLineKind::reload_failed:  // the rotation's (rotation.cpp): the connection's own lines follow
    case NatsLineKind::other: return j;
  }
  return j;
}
Judgement Readiness::check_done(const CheckResult& r, Actions&) {
  Judgement j;
  if (r.seq != check_seq_) return j;  // begun before a nats-server exit: another server's answer
  check_in_flight_ = false;
  if (stopped_ || !running_) return j;  // a result about a server that is gone
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
  j.ready = now_ready;
  if (now_ready) j.why = p_.dev ? "dev nats-server up" : "leaf connected to " + upstream;
  else j.why = last_check_.failure.empty() ? "readiness check failed" : last_check_.failure;
  return j;
}

void Readiness::after_check(bool ready, Actions& out) {
  if (stopped_ || !running_) return;
  if (check_wanted_) {
    check_wanted_ = false;
    return want_check(out);
  }
  next_check(ready, out);
}
void Readiness::next_check(bool ready, Actions& out) {
  Millis delay = p_.check_interval_waiting;
  if (ready) {
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

}  // namespace leaf::supervise
