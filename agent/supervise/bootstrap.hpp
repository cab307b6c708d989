// The bootstrap, in its one order, for both `run` and `init`:
//   check the files the config names and render the config (nothing read can block: FIFOs and
//   devices are refused) -> fetch and validate the credentials -> preflight the upstream (every
//   URL at once; the first that answers wins) -> lock state_dir -> write upstream.creds
//   (normalised: formatted from the parsed JWT and seed) and nats.conf (checked by
//   `nats-server -t` as a temporary file, renamed only when it passes).
// Blocking, but bounded: every step obeys `deadline` and gives up when `cancelled()` turns true.
// Runs on the Worker thread in `run`. Throws leaf::Error with the step's exit code.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/config/config.hpp"
#include "agent/config/local_boundary.hpp"
#include "agent/config/render.hpp"
#include "agent/core/creds.hpp"
#include "agent/io/lock.hpp"

namespace leaf::bootstrap {

struct Context {
  const config::Config& config;
  config::Environment& env;  // secret variables are wiped from it once read
  std::function<bool()> cancelled = [] { return false; };
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + std::chrono::hours(24);
  // The latest failure of a step that retries (a preflight round): what a timeout reports.
  std::function<void(int code, const std::string& error)> progress = [](int, const std::string&) {};
};

struct Prepared {
  render::Layout layout;
  std::optional<creds::Checked> creds;   // none in dev mode
  std::string creds_origin;
  std::string nats_conf;                  // the text nats-server -t accepted (rewritten before restarts)
  std::chrono::milliseconds fastest_probe{0};
  std::string creds_sha256;               // of upstream.creds as written (hex); empty in dev mode
  local_boundary::Chain local;            // local.auth = jwt: the chain minted at this start
  std::unique_ptr<fs::DirLock> lock;      // held while the agent runs
};

Prepared run(Context& ctx);

// The rendered nats-server config (what `render` prints and the bootstrap writes). No secrets.
// `local`: the chain to trust with local.auth = jwt (null: a throwaway one, for `render`).
std::string rendered_config(const config::Config& c, const local_boundary::Chain* local = nullptr);

// Writes the checked config again before nats-server is (re)started, so a config planted in
// state_dir since is never what runs.
void rewrite_nats_conf(const Prepared& p);

// Before nats-server is (re)started: upstream.creds must still be what the agent wrote (a regular
// file, same SHA-256); anything else is Error(Exit::credentials). The text itself is not kept.
void verify_written_creds(const Prepared& p);

}  // namespace leaf::bootstrap
