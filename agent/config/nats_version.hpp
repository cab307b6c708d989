// Which nats-server the config is for, and what that server accepts. Pure: the version comes from
// the caller (`nats-server --version`, the server's own start-up banner, or --nats-version).
//
// What differs between the releases users run (2.9 to 2.15; read in each release's opts.go and
// leafnode.go, and checked against Debian's 2.9.10, 2.10.27 and 2.15.1):
//   - leafnodes.reconnect: whole seconds up to 2.9 (a string crashes 2.9.10); a duration from 2.10
//     (a bare number is a warning there, and the warning makes `nats-server -t` exit 1). The
//     built-in template writes it only when upstream.reconnect is set (the server's default is 1 s
//     in every release); templates use the reconnect_duration section (render.hpp), rendered for
//     the version.
//   - remote options added later (gated below): refused with a clear error on an older server.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config/config.hpp"

namespace leaf::nats_version {

struct Version {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const Version&) const = default;
  std::string str() const;  // "2.10.27"
};

// "nats-server: v2.10.27" (what --version prints), "v2.10.27", "2.10.27", "2.11.0-RC.1" (the
// pre-release part is dropped). nullopt for anything else.
std::optional<Version> parse(std::string_view text);

// The remote options the agent can write that not every release has, with the first release
// that takes them, as `nats-server -t` of that release accepts them.
struct Gate {
  const char* key;     // the agent's key, e.g. "upstream.compression"
  Version since;
  bool (*set)(const config::Config&);
};
const std::vector<Gate>& gates();

// The first gated option this config sets (null: none, or dev mode): the agent must know the
// server's version before writing the config.
const Gate* first_gated_option(const config::Config& c);

// Throws Error(Exit::config) naming the first option set in `c` that nats-server `v` lacks, and
// the release it needs; also an upstream.reconnect that is not whole seconds, for 2.9. `server`: how
// to name the binary in the message.
void check_options(const config::Config& c, const Version& v, const std::string& server);

// Whether `v` takes leafnodes.reconnect as a duration ("1s": 2.10 and later) rather than whole
// seconds (2.9). Unknown: yes (every release users run today is 2.10 or later).
bool reconnect_is_duration(const std::optional<Version>& v);

// Whether a config reload of `v` replaces a leaf remote whose credentials path changed (drops the
// old connection and dials the new one at once): 2.14 and later (reload adds and removes remotes,
// nats-server PR #7937; a remote is known by its URLs, local account and credentials file).
// Before, it refuses such a reload ("config reload not supported for LeafNode") and applies nothing.
bool reload_replaces_remote(const Version& v);

// Whether a config reload of `v` that sets a leaf remote's `disabled` closes its connection, and
// one that clears it dials the hub at once (no leafnodes.reconnect wait): 2.12 and later (v2.12.8
// reload.go, leafNodeOption.Apply: connectToRemoteLeafNode(remote, true); checked on a 2.12.8
// built from its tag and on Debian's 2.15.1). Before, `disabled` is no remote option.
bool reload_toggles_remote(const Version& v);

}  // namespace leaf::nats_version
