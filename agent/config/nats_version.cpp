#include "agent/config/nats_version.hpp"

#include "agent/core/error.hpp"

namespace leaf::nats_version {

namespace {
// Digits at `at`, as a number; false when there are none (or too many to be a version).
bool number(std::string_view s, size_t& at, int& out) {
  const size_t start = at;
  long v = 0;
  while (at < s.size() && s[at] >= '0' && s[at] <= '9' && at - start < 6) v = v * 10 + (s[at++] - '0');
  out = static_cast<int>(v);
  return at > start && (at == s.size() || s[at] < '0' || s[at] > '9');
}
}  // namespace

std::string Version::str() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> parse(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.rfind("nats-server: ", 0) == 0) text.remove_prefix(13);
  if (!text.empty() && text[0] == 'v') text.remove_prefix(1);
  Version v;
  size_t at = 0;
  if (!number(text, at, v.major) || at >= text.size() || text[at++] != '.') return std::nullopt;
  if (!number(text, at, v.minor) || at >= text.size() || text[at++] != '.') return std::nullopt;
  if (!number(text, at, v.patch)) return std::nullopt;
  if (at < text.size() && text[at] != '-' && text[at] != '+') return std::nullopt;  // 2.11.0-RC.1, 2.10.0+build
  for (; at < text.size(); ++at) {
    if (text[at] == ' ' || text[at] < 0x21 || text[at] > 0x7e) return std::nullopt;
  }
  return v;
}

const std::vector<Gate>& gates() {
  static const std::vector<Gate> all = {
      {"upstream.handshake_first", {2, 10, 0}, [](const config::Config& c) { return c.upstream.handshake_first; }},
      {"upstream.compression", {2, 10, 0}, [](const config::Config& c) { return !c.upstream.compression.empty(); }},
      {"upstream.first_info_timeout", {2, 10, 26},
       [](const config::Config& c) { return !c.upstream.first_info_timeout.empty(); }},
      {"upstream.dial_timeout", {2, 14, 5}, [](const config::Config& c) { return !c.upstream.dial_timeout.empty(); }},
  };
  return all;
}

const Gate* first_gated_option(const config::Config& c) {
  if (c.dev()) return nullptr;
  for (const auto& g : gates()) {
    if (g.set(c)) return &g;
  }
  return nullptr;
}

void check_options(const config::Config& c, const Version& v, const std::string& server) {
  if (c.dev()) return;
  for (const auto& g : gates()) {
    if (g.set(c) && v < g.since) {
      throw config_error(std::string(g.key) + " needs nats-server >= " + g.since.str() + ", but " + server + " is v" +
                         v.str() + "; remove the option or run nats-server " + g.since.str() + " or later");
    }
  }
  // 2.9 reads leafnodes.reconnect as whole seconds: a shorter or fractional wait cannot be said.
  if (const auto r = c.reconnect(); r && !reconnect_is_duration(v) && r->count() % 1000 != 0) {
    throw config_error("upstream.reconnect = \"" + c.upstream.reconnect + "\" needs nats-server >= 2.10, but " + server +
                       " is v" + v.str() + ", which takes whole seconds; use \"1s\" or more, or run nats-server 2.10 or later");
  }
}

bool reconnect_is_duration(const std::optional<Version>& v) { return !v || *v >= Version{2, 10, 0}; }

bool reload_replaces_remote(const Version& v) { return v >= Version{2, 14, 0}; }

bool reload_toggles_remote(const Version& v) { return v >= Version{2, 12, 0}; }

}  // namespace leaf::nats_version
