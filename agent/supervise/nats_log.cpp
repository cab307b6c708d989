#include "agent/supervise/nats_log.hpp"

#include <utility>

#include "agent/config/nats_version.hpp"
#include "agent/core/text.hpp"

namespace leaf::supervise {

namespace {
bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// "<ip>:<port> - lid:<n> - <phrase>..." ("lid_ws:" for a wss:// remote, every release 2.9 to
// 2.15): the server's own line about a leaf connection. Lines are
// matched by shape, never by substring: text a local client controls (its connection name, the
// bytes of a protocol error) appears, quoted, in lines about client connections ("- cid:N -"),
// and a local client must not be able to make the agent believe anything about the upstream.
bool leaf_connection_line(std::string_view m, std::string_view phrase) {
  const size_t lid = m.find(" - lid");
  if (lid == std::string_view::npos || lid != m.find(' ')) return false;  // right after the address
  size_t at = lid + 6;
  if (m.substr(at, 3) == "_ws") at += 3;
  if (m.substr(at, 1) != ":") return false;
  ++at;
  const size_t digits = at;
  while (at < m.size() && m[at] >= '0' && m[at] <= '9') ++at;
  return at > digits && m.substr(at, 3) == " - " && m.substr(at + 3, phrase.size()) == phrase;
}

// A line the server writes about itself (no connection prefix): it starts with the phrase.
bool starts_with(std::string_view m, std::string_view phrase) { return m.substr(0, phrase.size()) == phrase; }
}  // namespace

NatsLine classify_nats_line(std::string_view line) {
  static const std::pair<std::string_view, NatsLevel> tags[] = {
      {" [INF] ", NatsLevel::info},   {" [WRN] ", NatsLevel::warn},  {" [ERR] ", NatsLevel::error},
      {" [DBG] ", NatsLevel::debug},  {" [TRC] ", NatsLevel::trace}, {" [FTL] ", NatsLevel::fatal}};
  NatsLine out;
  std::string_view msg = line;
  for (const auto& [tag, level] : tags) {
    const size_t at = line.find(tag);
    if (at != std::string_view::npos && at < 40) {  // the tag follows pid and time, never deep in a message
      out.level = level;
      msg = line.substr(at + tag.size());
      break;
    }
  }
  out.message = text::one_line(msg);
  const std::string& m = out.message;
  // Without a level tag: what nats-server's main prints before dying on a config it refuses.
  if (msg.data() == line.data() && m.rfind("nats-server: ", 0) == 0) {
    out.kind = NatsLineKind::config_error;
    out.level = NatsLevel::error;
    return out;
  }
  // The agent's own probe connects every few seconds; in operator mode (local.auth = jwt) the
  // server notes each such connection at info. Only info lines about that client go to debug.
  if (out.level == NatsLevel::info && contains(m, ":leaf-agent health\" - ")) out.level = NatsLevel::debug;
  if (leaf_connection_line(m, "Credentials file malformed") || leaf_connection_line(m, "Credentials file has malformed seed") ||
      (starts_with(m, "LeafNode Remote Credentials file ") && contains(m, " malformed"))) {
    out.kind = NatsLineKind::creds_malformed;
  } else if (leaf_connection_line(m, "Leafnode Error") && contains(m, "Authentication Expired")) {
    out.kind = NatsLineKind::auth_expired;  // the hub's words after "Leafnode Error"
  } else if (leaf_connection_line(m, "Leafnode Error") && contains(m, "Authorization Violation")) {
    out.kind = NatsLineKind::auth_refused;
  } else if (leaf_connection_line(m, "JetStream Not Extended") || leaf_connection_line(m, "Extending JetStream domain") ||
             leaf_connection_line(m, "JetStream using domains") ||
             leaf_connection_line(m, "JetStream not extended, domains differ")) {
    // Logged as the leaf registers the connection (addLeafNodeConnection), which a soliciting
    // leaf does only on the hub's INFO reply to CONNECT (leafnode.go: InfoOnConnect / ConnectInfo;
    // hubs since 2.2). 2.9 writes "JetStream Not Extended"; 2.10 to 2.15 "JetStream using domains:
    // local "", remote "hub"" (the system account: "JetStream not extended, domains differ"). A
    // hint only: the verdict is /leafz (the supervisor's on_check).
    out.kind = NatsLineKind::leaf_accepted;
  } else if (leaf_connection_line(m, "Leafnode connection created")) {
    out.kind = NatsLineKind::leaf_connected;
  } else if (leaf_connection_line(m, "Leafnode connection closed")) {
    out.kind = NatsLineKind::leaf_closed;
  } else if (leaf_connection_line(m, "Leafnode Error") &&
             (contains(m, "connection rejected") || contains(m, "Loop detected") || contains(m, "same cluster name"))) {
    // The hub's -ERR before it closes the connection (leafnode.go: the minimum version check
    // sends it right after its INFO, and holds the connection a few seconds before closing).
    out.kind = NatsLineKind::leaf_rejected;
  } else if (leaf_connection_line(m, "Leafnode Error") || starts_with(m, "Error trying to connect as leafnode")) {
    out.kind = NatsLineKind::leaf_error;
  } else if (starts_with(m, "Reloaded server configuration")) {
    out.kind = NatsLineKind::reloaded;
  } else if (starts_with(m, "Failed to reload server configuration")) {
    out.kind = NatsLineKind::reload_failed;
  } else if (m == "Server is ready") {
    out.kind = NatsLineKind::server_ready;
  } else if (out.level == NatsLevel::info) {
    // The start-up banner: "  Version:  2.10.27" (server.go, every release 2.9 to 2.15).
    std::string_view v = m;
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (starts_with(v, "Version:")) {
      v.remove_prefix(8);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (const auto release = nats_version::parse(v)) {
        out.kind = NatsLineKind::server_version;
        out.version = release->str();
      }
    }
  }
  return out;
}

namespace {
// "<host:port> - lid:<N> - ...": a line nats-server writes about one leaf connection. Matched by
// its shape, never a substring: a local client's own lines ("cid:") may quote "lid:".
bool about_a_leaf_connection(std::string_view m) {
  const auto dash = m.find(" - lid:");
  if (dash == std::string_view::npos || dash == 0 || m.substr(0, dash).find(' ') != std::string_view::npos) return false;
  size_t at = dash + 7;
  const size_t digits = at;
  while (at < m.size() && m[at] >= '0' && m[at] <= '9') ++at;
  return at > digits && m.substr(at, 3) == " - ";
}
}  // namespace

LineThrottle::Verdict LineThrottle::admit(std::string_view message, TimePoint now, int level) {
  if (!about_a_leaf_connection(message)) return {};
  std::string shape;
  shape.reserve(message.size());
  for (char c : message) {
    if (c >= '0' && c <= '9') {
      if (shape.empty() || shape.back() != '#') shape.push_back('#');
    } else {
      shape.push_back(c);
    }
  }
  // A hub's words vary little; a flood of distinct shapes would be something else: start over
  // rather than grow (at worst a few lines more are printed).
  if (shapes_.size() >= 256 && !shapes_.count(shape)) shapes_.clear();
  auto [it, fresh] = shapes_.try_emplace(std::move(shape), Seen{now, 0, {}, level});
  if (fresh) return {};
  Seen& s = it->second;
  if (now - s.printed_at < window_) {
    ++s.held_back;
    s.last.assign(message);
    s.level = level;
    return {false, 0};
  }
  Verdict v{true, s.held_back};
  s = Seen{now, 0, {}, level};
  return v;
}

std::vector<LineThrottle::Held> LineThrottle::take_due(TimePoint now) {
  std::vector<Held> due;
  for (auto& [shape, s] : shapes_) {
    if (s.held_back == 0 || now - s.printed_at < window_) continue;
    due.push_back(Held{std::move(s.last), s.level, s.held_back});
    s = Seen{now, 0, {}, s.level};
  }
  return due;
}

bool LineThrottle::holding() const {
  for (const auto& [shape, s] : shapes_) {
    if (s.held_back > 0) return true;
  }
  return false;
}

}  // namespace leaf::supervise
