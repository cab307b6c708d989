// The bootstrap path, top to bottom: source -> validate -> write -> render -> launch -> health
// -> gate. `prepare` does everything up to files on disk (and is all of `init`); `Runner` then
// launches nats-server, watches it, serves probes and starts the host once the leaf is ready.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/config.hpp"
#include "agent/creds.hpp"
#include "agent/render.hpp"

namespace leaf::runner {

struct Prepared {
  render::Layout layout;
  std::optional<creds::Checked> creds;  // none in dev mode
  std::string creds_origin;
};

// Checks the files the config names, fetches and validates credentials, writes upstream.creds
// (0600) and nats.conf in state_dir (0700), and has nats-server check the config (-t).
// Nothing is written when credentials are invalid. Throws leaf::Error.
Prepared prepare(const config::Config& c, const config::Environment& env);

// The rendered nats-server config for `c` (what `render` prints and `prepare` writes).
std::string rendered_config(const config::Config& c);

// Launch, supervise, gate. Returns the process exit code: the host's when one was given,
// 0 after a clean SIGTERM, or the Exit code of the failure.
int run(const config::Config& c, const config::Environment& env, const std::vector<std::string>& host_cmd);

}  // namespace leaf::runner
