// Where upstream credentials come from (file, env, http, signer), and the checks that make them
// fit for a leaf connection. Every source ends in the same validation as `creds inspect`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/config/config.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/secret.hpp"

namespace leaf::sources {

struct Fetched {
  SecretString creds;   // .creds text
  std::string origin;   // for logs: "file /x", "env NATS_JWT+NATS_SEED", "https://host/path", "signer"
};

// Fetches from the configured source. Throws Error(Exit::credentials) (or Exit::config for a
// file the configuration names that cannot be used) with a one-line reason.
// `cancelled` and `deadline` bound a fetch that can take long (the http source).
Fetched fetch(const config::Config& c, const config::Environment& env, std::int64_t now,
              const std::function<bool()>& cancelled = {},
              std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

// creds::validate plus: issued for upstream.account when set; LEAFNODE among
// allowed_connection_types when the JWT limits them; lifetime left above credentials.min_lifetime.
creds::Checked check_for_leaf(const Fetched& f, const config::Config& c, std::int64_t now);

// Environment variables that carry secrets for `c` (removed from children's environments).
std::vector<std::string> secret_env_names(const config::Config& c);

}  // namespace leaf::sources
