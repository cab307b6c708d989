// The bootstrap, in its one order, for both `run` and `init` (one credential, top to bottom):
//   1. lock state_dir (ours, private, no symlink; what a killed run left is cleared)
//   2. check the files the config names; render the config for the nats-server release
//      (nothing read can block: FIFOs and devices are refused)
//   3. `init` or a user template: `nats-server -t` judges it as a candidate file (beside 4 and 5)
//   4. the credentials: store::take (fetch -> check for a leaf -> normalise)
//   5. `init` only: preflight the upstream (every URL at once; the first that answers wins)
//   6. write: upstream.creds (store commit), the local boundary's files, nats.conf last
// A step that fails leaves nothing written (what was written is removed). Blocking, but bounded:
// every step obeys `deadline` and gives up when `cancelled()` turns true. Runs on a worker thread
// in `run`. Throws leaf::Error with the step's exit code.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/config/config.hpp"
#include "agent/config/local_boundary.hpp"
#include "agent/config/nats_version.hpp"
#include "agent/config/render.hpp"
#include "agent/core/creds.hpp"
#include "agent/io/lock.hpp"
#include "agent/store/credential_store.hpp"

namespace leaf::bootstrap {

struct Context {
  const config::Config& config;
  config::Environment& env;  // secret variables are wiped from it once read
  std::function<bool()> cancelled = [] { return false; };
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::now() + std::chrono::hours(24);
  // The latest failure of a step that retries (a preflight round): what a timeout reports.
  std::function<void(int code, const std::string& error)> progress = [](int, const std::string&) {};
  // `init`: probe the upstream and run `nats-server -t` before writing anything, since no
  // nats-server runs after it to find out. `run` starts nats-server at once: the built-in
  // templates' -t is the test suite's job, a refused config is nats-server's own exit, and the
  // upstream is probed only to explain a leaf that does not come up (RunDiagnosis).
  bool thorough = true;
};

struct Prepared {
  render::Layout layout;
  store::CredentialStore creds;           // upstream.creds; nothing committed in dev mode
  std::string nats_conf;                  // the text nats-server -t accepted (rewritten before restarts)
  std::string template_text, template_name;  // what nats_conf was rendered from (the other slot's config)
  local_boundary::Chain local;            // local.auth = jwt: the chain minted at this start
  std::optional<nats_version::Version> server_version;  // when the bootstrap asked (see run())
  std::unique_ptr<fs::DirLock> lock;      // held while the agent runs

  // Writes the checked config again before nats-server is (re)started, so a config planted in
  // state_dir since is never what runs.
  void rewrite_nats_conf() const;
  // nats_conf again, from the same template, with the remote naming `creds_path` (a rotation by
  // config reload moves the leaf to the other credentials slot); `server`: the running release;
  // `remote_disabled`: the remote disabled (the first reload of a move by toggle).
  std::string config_naming(const config::Config& c, const std::string& creds_path,
                            const std::optional<nats_version::Version>& server, bool remote_disabled = false) const;

  // A move by config reload (supervise/rotation.hpp): the credentials into the store's other slot,
  // then nats.conf naming it. False, nothing changed, when that config cannot be made (the caller
  // commits as usual). Throws Error when a write fails (then nothing changed either).
  bool stage(const config::Config& c, const store::Candidate& next, const std::optional<nats_version::Version>& server);
  // The move is confirmed: the previous slot's file goes.
  void forget_previous();
  // Refreshed credentials while a move is staged: they go into the staged slot (the file the
  // config now names) and are what a fallback writes back.
  void commit(const store::Candidate& next);
  // The move did not happen: the staged credentials go into the slot the running config reads, and
  // that config is written back. `keep_staged`: the staged file stays too.
  void unstage(bool keep_staged);

  // A move by toggle (supervise/rotation.hpp): nats_conf again with the leaf's remote disabled,
  // kept for switch_remote. False when that config cannot be made, or is nats_conf itself (a
  // template of the user's without the remote_disabled section): the leaf moves at the expiry.
  bool prepare_toggle(const config::Config& c, const std::optional<nats_version::Version>& server);
  // nats.conf with the remote disabled (`enabled` false) or as checked. Throws Error.
  void switch_remote(bool enabled) const;
  std::string disabled_conf;  // from prepare_toggle
  bool toggle_unsupported_said = false;

  std::optional<store::Candidate> staged;  // until the move is confirmed or undone
  std::string previous_conf;               // the config the running server read before the staging
  // Removes what the start wrote: a start that failed leaves nothing behind.
  void remove_written(const config::Config& c) const;
};

// Step 1 alone: the state_dir judged (ours, private, no symlink), locked, and cleared of what a
// previous run left (ready file, temporary files). Throws Error.
Prepared lock(const config::Config& c);

// Steps 1-6: lock (unless `locked` comes from lock()), render, fetch and validate, write.
Prepared run(Context& ctx);
Prepared run(Context& ctx, Prepared locked);

// The rendered nats-server config (what `render` prints and the bootstrap writes). No secrets.
// `local`: the chain to trust with local.auth = jwt (null: a throwaway one, for `render`).
// `server`: the nats-server release to render for (render::nats_config).
std::string rendered_config(const config::Config& c, const local_boundary::Chain* local = nullptr,
                            const std::optional<nats_version::Version>& server = std::nullopt);

// `agent.nats_server --version`, parsed; nullopt when it cannot be run or prints no version.
// Bounded (10 s) and cancellable. Costs the exec of a Go program: 8 to 12 ms.
std::optional<nats_version::Version> server_version(const config::Config& c, const std::function<bool()>& cancelled = {});

}  // namespace leaf::bootstrap
