#include "agent/supervise/nats_log.hpp"

#include <utility>

namespace leaf::supervise {

namespace {
bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_len(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  if (n == 2 && b < 0xc2) return 0;  // overlong
  return n;
}
}  // namespace

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += c == '\t' ? ' ' : '?';
      ++i;
      continue;
    }
    const size_t n = utf8_len(text, i);
    if (n == 0) {
      out += '?';
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

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
  out.message = one_line(msg);
  const std::string& m = out.message;
  if (contains(m, "Credentials file malformed") || contains(m, "has malformed seed")) {
    out.kind = NatsLineKind::creds_malformed;
  } else if (contains(m, "Authentication Expired")) {
    out.kind = NatsLineKind::auth_expired;
  } else if (contains(m, "Authorization Violation") || contains(m, "authorization violation")) {
    out.kind = NatsLineKind::auth_refused;
  } else if (contains(m, "Leafnode connection created")) {
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
