#include "agent/supervise/nats_log.hpp"

#include <utility>

#include "agent/core/text.hpp"

namespace leaf::supervise {

namespace {
bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

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
  // The agent's own probe connects every few seconds; in operator mode (local.auth = jwt) the
  // server notes each such connection at info. Only info lines about that client go to debug.
  if (out.level == NatsLevel::info && contains(m, ":leaf-agent health\" - ")) out.level = NatsLevel::debug;
  if (contains(m, "Credentials file malformed") || contains(m, "has malformed seed")) {
    out.kind = NatsLineKind::creds_malformed;
  } else if (contains(m, "Authentication Expired")) {
    out.kind = NatsLineKind::auth_expired;
  } else if (contains(m, "Authorization Violation") || contains(m, "authorization violation")) {
    out.kind = NatsLineKind::auth_refused;
  } else if (contains(m, "Leafnode connection created") || contains(m, "JetStream Not Extended") ||
             contains(m, "Extending JetStream domain")) {
    // The last two are logged by the leaf as it adds a connection the hub has accepted.
    out.kind = NatsLineKind::leaf_connected;
  } else if (contains(m, "Leafnode connection closed")) {
    out.kind = NatsLineKind::leaf_closed;
  } else if (contains(m, "Leafnode Error") || contains(m, "Error trying to connect as leafnode")) {
    out.kind = NatsLineKind::leaf_error;
  } else if (contains(m, "Server is ready")) {
    out.kind = NatsLineKind::server_ready;
  }
  return out;
}

}  // namespace leaf::supervise
