// The bootstrap path, top to bottom: source -> validate -> write -> render -> launch -> health
// -> gate. `prepare` does everything up to files on disk (and is all of `init`); `Runner` then
// launches nats-server, watches it, serves probes and starts the host once the leaf is ready.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/config/local_boundary.hpp"
#include "agent/core/creds.hpp"
#include "agent/config/render.hpp"

namespace leaf::runner {

struct Prepared {
  render::Layout layout;
  std::optional<creds::Checked> creds;  // none in dev mode
  std::string creds_origin;
  SecretString creds_text;              // to be written as upstream.creds
  std::string nats_conf;                // to be written as nats.conf
  local_boundary::Chain local;          // [local-boundary] local.auth = jwt: the chain minted at this start
};

// Checks the files the config names, renders the config, fetches and validates credentials.
// Writes nothing. Throws leaf::Error.
Prepared check(const config::Config& c, const config::Environment& env);

// Writes upstream.creds (0600) and nats.conf in state_dir (0700), then has nats-server check
// the config (-t). Throws leaf::Error.
void write(const config::Config& c, Prepared& p);

// check() then write(): all of `init`.
Prepared prepare(const config::Config& c, const config::Environment& env);

// The rendered nats-server config for `c` (what `render` prints and `prepare` writes).
// [local-boundary] `local`: the chain to trust with local.auth = jwt (null: a throwaway one).
std::string rendered_config(const config::Config& c, const local_boundary::Chain* local = nullptr);

// Launch, supervise, gate. Returns the process exit code: the host's when one was given,
// 0 after a clean SIGTERM, or the Exit code of the failure.
int run(const config::Config& c, const config::Environment& env, const std::vector<std::string>& host_cmd);

}  // namespace leaf::runner
