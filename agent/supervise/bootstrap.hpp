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
#include "agent/config/nats_version.hpp"
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
  // `init`: probe the upstream and run `nats-server -t` before writing anything, since no
  // nats-server runs after it to find out. `run` starts nats-server at once: the built-in
  // templates' -t is the test suite's job, a refused config is nats-server's own exit, and the
  // upstream is probed only to explain a leaf that does not come up (RunDiagnosis).
  bool thorough = true;
};

struct Prepared {
  render::Layout layout;
  std::optional<creds::Checked> creds;   // none in dev mode
  std::string creds_origin;
  std::string nats_conf;                  // the text nats-server -t accepted (rewritten before restarts)
  std::string creds_sha256;               // of upstream.creds as written (hex); empty in dev mode
  local_boundary::Chain local;            // local.auth = jwt: the chain minted at this start
  std::optional<nats_version::Version> server_version;  // when the bootstrap asked (see run())
  std::unique_ptr<fs::DirLock> lock;      // held while the agent runs
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

// One round of preflight: every upstream URL probed at once (DNS, TCP, TLS verified against the
// CA and name, the server's INFO); returns at the first success without waiting for the others
// (a hub that accepts TCP and never speaks holds only its own probe). nullopt when one URL works,
// else "upstream unreachable: <the first failure>".
std::optional<std::string> probe_upstream(const config::Config& c, std::chrono::milliseconds timeout,
                                          const std::function<bool()>& cancelled = {});

// A credential refresh (on the Worker thread): fetch from the configured source, the same checks
// as at start (sources::check_for_leaf) plus "the same account as the credentials in use", then
// write them, normalised, atomically over the creds file nats-server reads at its next leaf
// connect. Throws Error with a one-line reason; nothing is written then.
struct Refreshed {
  creds::Checked creds;
  std::string origin;
  std::int64_t checked_at = 0;  // unix seconds
  bool written = false;         // false: the source still has the credentials in use
  std::string sha256;           // of the file as written (see verify_written_creds)
};
Refreshed refresh_credentials(const config::Config& c, const config::Environment& env, const Prepared& p,
                              const std::function<bool()>& cancelled, std::chrono::steady_clock::time_point deadline);

// Writes the checked config again before nats-server is (re)started, so a config planted in
// state_dir since is never what runs.
void rewrite_nats_conf(const Prepared& p);

// Before nats-server is (re)started: upstream.creds must still be what the agent wrote (a regular
// file, same SHA-256); anything else is Error(Exit::credentials). The text itself is not kept.
void verify_written_creds(const Prepared& p);

}  // namespace leaf::bootstrap
