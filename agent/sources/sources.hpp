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

// Every environment variable that must never reach nats-server or the host, whatever
// credentials.source is: the env source's variables as configured and as they are by default
// (NATS_JWT, NATS_SEED), credentials.creds_env, and the secret-bearing LEAF_AGENT_* variables
// (LEAF_AGENT_CREDENTIALS_URL); no duplicates. The agent
// removes them from its own environment at start (children inherit nothing of them); a child's
// environment is built without them too: process::environment(child_env_drop(c), add).
std::vector<std::string> child_env_drop(const config::Config& c);

// Secrets handed over in the environment leave the process environment (and so
// /proc/<pid>/environ) right after the configuration is read, in every command: every variable
// child_env_drop(c) names is zeroed in place and unset. Children never inherit them.
void scrub_process_environment(const config::Config& c);

// The agent's copy of its environment (config::load reads it, the env source takes its secrets
// from it), every value wiped when it dies, whichever command took it and however that ends.
struct EnvironmentCopy {
  config::Environment env;
  EnvironmentCopy();
  ~EnvironmentCopy();
  EnvironmentCopy(const EnvironmentCopy&) = delete;
  EnvironmentCopy& operator=(const EnvironmentCopy&) = delete;
};

}  // namespace leaf::sources
