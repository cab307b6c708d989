#include "agent/supervise/bootstrap.hpp"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <future>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/core/pem.hpp"
#include "agent/core/secret.hpp"
#include "agent/core/text.hpp"
#include "agent/io/fs.hpp"
#include "agent/io/logging.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/preflight/preflight.hpp"
#include "agent/preflight/upstream_probe.hpp"
#include "agent/sources/sources.hpp"
#include "agent/supervise/nats_log.hpp"
#include "agent/supervise/prewarm.hpp"
#include "agent/supervise/process.hpp"

namespace leaf::bootstrap {

namespace {
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// The machine part of the leaf's server name; render makes it unique per agent (config::server_name).
std::string machine_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return std::string("leaf-") + host;
}

void check_cancelled(const Context& ctx) {
  if (ctx.cancelled()) throw Error(Exit::ok, "stopped");
}

std::chrono::milliseconds remaining(const Context& ctx) {
  return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - SteadyClock::now()));
}

// `run`'s check of an upstream TLS file: readable, bounded, and PEM of the right kind
// (core/pem.hpp), without loading OpenSSL; nats-server judges the rest when it reads the file.
// Read into wiping memory, whatever it is: a certificate file may hold the key too.
void check_pem_file(const std::string& path, const std::string& what, std::string (*problem_of)(std::string_view)) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw config_error(what + ": cannot open: " + std::strerror(errno));
  SecretString text;
  try {
    text = fs::read_secret_file(path, Exit::config);
  } catch (const Error& e) {
    // fs names the file itself ("cannot read <path>: ..."): say it once.
    std::string why = e.what();
    for (const std::string& prefix : {"cannot read " + path + ": ", path + ": ", path + " "}) {
      if (why.rfind(prefix, 0) == 0) {
        why.erase(0, prefix.size());
        break;
      }
    }
    throw config_error(what + ": " + why);
  }
  if (const std::string problem = problem_of(std::string_view(text.data(), text.size())); !problem.empty()) {
    throw config_error(what + ": " + problem);
  }
}

void check_files(const Context& ctx) {
  const auto& c = ctx.config;
  if (c.dev()) return;
  if (ctx.thorough) {  // `init`: OpenSSL parses them, and matches the key to the certificate
    if (!c.upstream.ca_file.empty()) pki::check_ca_file(c.upstream.ca_file);
    if (!c.upstream.cert_file.empty()) pki::check_cert_key_pair(c.upstream.cert_file, c.upstream.key_file);
  } else {
    if (!c.upstream.ca_file.empty()) {
      check_pem_file(c.upstream.ca_file, "CA file " + c.upstream.ca_file, pem::certificates_problem);
    }
    if (!c.upstream.cert_file.empty()) {
      check_pem_file(c.upstream.cert_file, "certificate file " + c.upstream.cert_file, pem::certificates_problem);
      check_pem_file(c.upstream.key_file, "key file " + c.upstream.key_file, pem::private_key_problem);
    }
  }
  if (!c.agent.template_path.empty() && !fs::exists(c.agent.template_path)) {
    throw config_error("agent.template: " + c.agent.template_path + " does not exist");
  }
  const auto& cr = c.credentials;
  if (c.source() == config::Source::http) {
    if (!cr.http_ca_file.empty()) pki::check_ca_file(cr.http_ca_file);
    if (!cr.http_cert_file.empty()) pki::check_cert_key_pair(cr.http_cert_file, cr.http_key_file);
  }
}

// nats-server -t on `conf_path`: the server itself judges the config before we depend on it.
void server_check_config(const Context& ctx, const std::string& conf_path, const std::string& shown_path) {
  const auto& c = ctx.config;
  process::Captured r;
  try {
    r = process::run_capture({c.agent.nats_server, "-t", "-c", conf_path}, std::min<std::chrono::milliseconds>(30s, std::max(remaining(ctx), 1000ms)),
                             ctx.cancelled);
  } catch (const Error& e) {
    check_cancelled(ctx);
    throw Error(Exit::server, std::string(e.what()) + " (agent.nats_server = " + c.agent.nats_server + ")");
  }
  if (r.exit_code == 0) return;
  std::string out = text::one_line(r.output);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.empty() || r.exit_code >= 126) {
    // Not a verdict on the config: the program did not run as a nats-server would.
    throw Error(Exit::server, c.agent.nats_server + " -t exited with code " + std::to_string(r.exit_code) +
                                  (out.empty() ? " and said nothing" : ": " + out) +
                                  "; is agent.nats_server a nats-server binary?");
  }
  std::string hint;
  if (out.find("unknown field") != std::string::npos) hint = "; the installed nats-server is too old for an option in this config";
  if (out.find("reconnect should be converted to a duration") != std::string::npos) {
    hint = "; nats-server 2.10+ take leafnodes.reconnect as a duration: in agent.template, write it with the "
           "reconnect_duration section (README, \"Supported nats-server versions\")";
  }
  throw config_error("nats-server rejected the rendered config " + shown_path + ": " + out + hint);
}

}  // namespace

std::optional<nats_version::Version> server_version(const config::Config& c, const std::function<bool()>& cancelled) {
  process::Captured out;
  try {
    out = process::run_capture({c.agent.nats_server, "--version"}, 10s, cancelled ? cancelled : [] { return false; });
  } catch (const Error&) {
    return std::nullopt;
  }
  if (out.exit_code != 0) return std::nullopt;
  return nats_version::parse(out.output);
}

namespace {
std::string candidate_path(const Prepared& p) { return p.layout.dir + "/nats.conf.candidate"; }

// The state_dir is judged (ours, private, no symlink) and locked before anything in it is touched.
void lock_state_dir(Prepared& p) {
  fs::ensure_private_dir(p.layout.dir, 0700);
  p.lock = std::make_unique<fs::DirLock>(p.layout.dir);
  // What a kill -9 in the middle of a write left behind (a temp file may hold the seed).
  if (const auto n = fs::remove_stale_temp_files(p.layout.dir); n > 0) {
    logging::agent()->info("removed {} stale temporary file(s) from {}", n, p.layout.dir);
  }
  ::unlink(candidate_path(p).c_str());
  ::unlink(p.layout.creds_alt.c_str());  // a previous run's other slot: the start writes upstream.creds
  if (::access(p.layout.ready.c_str(), F_OK) == 0) ::unlink(p.layout.ready.c_str());  // stale from a previous run
  prewarm::Server::remove_fifo(p.layout.nats_conf);  // an agent killed while nats-server waited for its config
}

// Only once everything passed: the credentials, the local boundary's files, then the checked
// config under its real name. `candidate`: nats.conf is the candidate nats-server -t accepted
// (renamed), else written here. All or nothing: what was written is removed if a write fails.
void write_files(const Context& ctx, Prepared& p, const std::optional<store::Candidate>& creds, bool candidate) {
  const auto& c = ctx.config;
  try {
    if (creds) p.creds.commit(*creds);
    local_boundary::write_files(c, p.local);  // local.creds + health.creds (0600)
    if (!candidate) {
      fs::write_atomic(p.layout.nats_conf, p.nats_conf, 0600, fs::Durability::atomic_only);
    } else if (::rename(candidate_path(p).c_str(), p.layout.nats_conf.c_str()) != 0) {
      throw config_error("cannot write " + p.layout.nats_conf + ": " + std::strerror(errno));
    }
  } catch (...) {
    p.remove_written(c);
    throw;
  }
}
}  // namespace

namespace {
// The template the config is rendered from: agent.template, or the built-in one for the mode.
std::pair<std::string, std::string> template_of(const config::Config& c) {
  if (!c.agent.template_path.empty()) return {fs::read_file(c.agent.template_path), c.agent.template_path};
  return {render::builtin_template(c), c.dev() ? "dev.conf (built in)" : "leafnode.conf (built in)"};
}
}  // namespace

std::string rendered_config(const config::Config& c, const local_boundary::Chain* local,
                            const std::optional<nats_version::Version>& server) {
  const auto [text, name] = template_of(c);
  return render::nats_config(c, text, name, machine_name(), local, server);
}

std::string Prepared::config_naming(const config::Config& c, const std::string& creds_path,
                                    const std::optional<nats_version::Version>& server, bool remote_disabled) const {
  return render::nats_config(c, template_text, template_name, machine_name(), &local, server ? server : server_version,
                             creds_path, remote_disabled);
}

void Prepared::rewrite_nats_conf() const {
  fs::write_atomic(layout.nats_conf, nats_conf, 0600, fs::Durability::atomic_only);
}

bool Prepared::stage(const config::Config& c, const store::Candidate& next,
                     const std::optional<nats_version::Version>& server) {
  std::string conf;
  try {
    conf = config_naming(c, creds.other_path(), server);
  } catch (const std::exception& e) {
    logging::agent()->warn("cannot render the config for a move by reload ({}); the leaf moves at the hub's expiry", e.what());
    return false;
  }
  creds.stage(next);
  previous_conf = std::exchange(nats_conf, std::move(conf));
  try {
    rewrite_nats_conf();
  } catch (...) {
    creds.abandon_stage();  // nothing read the staged file: as if never written
    nats_conf = std::move(previous_conf);
    throw;
  }
  staged = next;
  return true;
}

void Prepared::commit(const store::Candidate& next) {
  creds.commit(next);
  if (staged) staged = next;
}

void Prepared::forget_previous() {
  creds.forget_previous();
  staged.reset();
}

void Prepared::unstage(bool keep_staged) {
  if (!staged) return;
  creds.unstage(*staged, keep_staged);
  nats_conf = std::move(previous_conf);
  staged.reset();
  rewrite_nats_conf();
}

bool Prepared::prepare_toggle(const config::Config& c, const std::optional<nats_version::Version>& server) {
  try {
    // The file in use, as nats_conf names it (after a move by reload: upstream.alt.creds): the
    // same remote to nats-server, only disabled.
    disabled_conf = config_naming(c, creds.path(), server, /*remote_disabled=*/true);
    if (disabled_conf != config_naming(c, creds.path(), server)) return true;
  } catch (const std::exception& e) {
    logging::agent()->warn("cannot render the config for a move by toggle ({}); the leaf moves at the hub's expiry", e.what());
    return false;
  }
  if (!toggle_unsupported_said) {
    toggle_unsupported_said = true;
    logging::agent()->warn("{} has no remote_disabled section: the leaf moves to rotated credentials at the hub's expiry "
                           "(see the README, credential rotation)", template_name);
  }
  return false;
}

void Prepared::switch_remote(bool enabled) const {
  fs::write_atomic(layout.nats_conf, enabled ? nats_conf : disabled_conf, 0600, fs::Durability::atomic_only);
}

void Prepared::remove_written(const config::Config& c) const {
  creds.remove();
  if (local.enabled()) local_boundary::remove_files(c);
  // A regular nats.conf only: a prewarm's FIFO at that path is its owner's to remove.
  struct stat st {};
  if (::lstat(layout.nats_conf.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(layout.nats_conf.c_str());
}

Prepared lock(const config::Config& c) {
  Prepared p;
  p.layout = render::layout(c);
  p.creds = store::CredentialStore(p.layout.creds, p.layout.creds_alt);
  lock_state_dir(p);
  return p;
}

Prepared run(Context& ctx) { return run(ctx, lock(ctx.config)); }

Prepared run(Context& ctx, Prepared locked) {
  const auto& c = ctx.config;
  auto log = logging::agent();
  // 1. The state_dir, ours and locked, before anything slow happens or anything is written.
  Prepared p = std::move(locked);

  // 2. What the config names, and the config nats-server will get. The server's release matters
  //    to the config only for a user template or upstream.reconnect (whole seconds on 2.9) and for
  //    options some releases lack; `init` asks it anyway (it runs -t, and says which server the files are for). `run`
  //    with the built-in template and no such option asks nothing (`nats-server --version` costs 8
  //    to 12 ms): the server names its release in its start-up banner (the supervisor reads it).
  //    `init` may be told the release outright (agent.nats_version: the official image of another
  //    release runs the files); `run` writes for the binary it runs, whatever that says.
  const auto named = ctx.thorough ? nats_version::parse(c.agent.nats_version) : std::nullopt;
  const bool needs_version = !c.dev() && (ctx.thorough || !c.agent.template_path.empty() || c.reconnect() ||
                                          nats_version::first_gated_option(c));
  std::future<std::optional<nats_version::Version>> asked;
  if (needs_version) asked = std::async(std::launch::async, [&c, &ctx] { return server_version(c, ctx.cancelled); });
  check_files(ctx);
  p.local = local_boundary::mint(c, unix_now());  // fresh keys each start; none when local.auth = none
  std::optional<nats_version::Version> binary;
  if (needs_version) {
    binary = asked.get();
    check_cancelled(ctx);
    p.server_version = named ? named : binary;
    if (p.server_version) {
      nats_version::check_options(c, *p.server_version, named ? "agent.nats_version" : c.agent.nats_server + " (agent.nats_server)");
    } else if (nats_version::first_gated_option(c) || c.reconnect()) {
      throw Error(Exit::server, c.agent.nats_server + " --version printed no nats-server version, and the config "
                                "sets options only some releases have (or write differently: upstream.reconnect); is "
                                "agent.nats_server a nats-server binary?");
    }
  }
  std::tie(p.template_text, p.template_name) = template_of(c);
  p.nats_conf = render::nats_config(c, p.template_text, p.template_name, machine_name(), &p.local, p.server_version);
  check_cancelled(ctx);

  // 3. `init` or a user template: nats-server -t judges the config as a candidate file, beside
  //    steps 4 and 5 (it costs tens of milliseconds). `run` with a built-in template skips it:
  //    what they render is ours, and the suite runs -t on every variant of them
  //    (tests/integration/config/builtin_templates_test.cpp). A config written for another
  //    release than agent.nats_server's is not its to judge (it would refuse a duration reconnect
  //    or an option it lacks that the named release takes).
  const bool other_release = named && binary != named;
  if (other_release) {
    log->info("the config is for nats-server {} (agent.nats_version); {} is {}: its -t is skipped", named->str(),
              c.agent.nats_server, binary ? "v" + binary->str() : std::string("no nats-server it could ask"));
  }
  const bool server_check = (ctx.thorough || !c.agent.template_path.empty()) && !other_release;
  // The candidate goes once nats-server -t is done with it (the verdict waited for first, even
  // when a later step throws: it is declared after the clean-up, so destroyed before it).
  struct Discard {  // a candidate that is not renamed into place is removed
    const Prepared& p;
    ~Discard() { ::unlink(candidate_path(p).c_str()); }
  } discard{p};
  std::future<void> verdict;
  if (server_check) {
    fs::write_atomic(candidate_path(p), p.nats_conf, 0600, fs::Durability::atomic_only);
    verdict = std::async(std::launch::async, [&ctx, &p] { server_check_config(ctx, candidate_path(p), p.layout.nats_conf); });
  }

  // 4. Credentials: fetched, validated, and normalised (never the bytes as fetched); the same
  //    path as every refresh (store/credential_store.hpp).
  std::optional<store::Candidate> creds;
  if (!c.dev()) {
    const auto now = unix_now();
    creds = store::take(c, ctx.env, now, ctx.cancelled, ctx.deadline);
    for (const auto& name : sources::child_env_drop(c)) {
      if (auto it = ctx.env.find(name); it != ctx.env.end()) wipe(it->second);
    }
    const auto exp = creds->creds.token.expires();
    log->info("credentials from {}: user {} account {} ({})", creds->origin, creds->creds.subject, creds->creds.account,
              exp ? "expires in " + format_duration(Seconds(*exp - now)) : std::string("no expiry"));
    check_cancelled(ctx);

    // 5. `init` only: the upstream answers, with TLS we trust, before the credentials are
    //    written. `run` starts nats-server at once and probes the upstream only to explain a
    //    leaf that does not come up (the supervisor's RunDiagnosis).
    if (ctx.thorough) {
      const auto failure = preflight::await_upstream(c, ctx.deadline, ctx.cancelled, [&ctx](const std::string& f) {
        ctx.progress(static_cast<int>(Exit::upstream), f);
      });
      check_cancelled(ctx);
      if (failure) throw Error(Exit::upstream, *failure);
    }
  }

  // 6. The server's verdict on the config, then the files under their real names.
  if (verdict.valid()) verdict.get();
  check_cancelled(ctx);
  write_files(ctx, p, creds, server_check);
  return p;
}

}  // namespace leaf::bootstrap
