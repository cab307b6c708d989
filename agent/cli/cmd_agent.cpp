// run, init, render, config, health, wait: the agent itself.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "agent/cli/commands.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"
#include "agent/supervise/health.hpp"
#include "agent/io/logging.hpp"
#include "agent/supervise/bootstrap.hpp"
#include "agent/supervise/runner.hpp"
#include "agent/sources/sources.hpp"

namespace leaf::cmd {

namespace {
constexpr const char* kDefaultConfig = "/etc/leaf-agent/agent.toml";

// Options shared by the agent commands: the config file and the most used keys as flags.
struct Common {
  std::string config_file;
  bool dev = false;
  std::vector<std::string> upstream;
  std::string creds_file;
  std::string state_dir, listen, monitor, health_listen, ready_timeout, log_format, log_level, nats_server, nats_version;
  CLI::Option* health_listen_opt = nullptr;  // given at all: "" is a value (disables the listener)
  std::string local_auth;
};

void add_common(CLI::App* c, Common& o) {
  c->add_option("-c,--config", o.config_file, std::string("TOML config file (default ") + kDefaultConfig + " if it exists)");
  c->add_flag("--dev", o.dev, "laptop mode: plain nats-server on loopback, no upstream (agent.mode = dev)");
  c->add_option("--upstream", o.upstream, "upstream URL, tls:// or wss:// (repeatable; upstream.urls)");
  c->add_option("--creds", o.creds_file, "credentials file (credentials.source = file, credentials.file)");
  c->add_option("--state-dir", o.state_dir, "agent.state_dir");
  c->add_option("--listen", o.listen, "local.listen (loopback host:port)");
  c->add_option("--monitor", o.monitor, "local.monitor (loopback host:port)");
  c->add_option("--local-auth", o.local_auth, "local.auth: none (anonymous localhost), jwt (a local trust chain) or tls (client certificates of a local CA)");
  o.health_listen_opt = c->add_option("--health-listen", o.health_listen, "agent.health_listen (loopback host:port, \"\" disables)");
  c->add_option("--ready-timeout", o.ready_timeout, "agent.ready_timeout (e.g. 60s)");
  c->add_option("--log-format", o.log_format, "agent.log_format: text or json");
  c->add_option("--log-level", o.log_level, "agent.log_level");
  c->add_option("--nats-server", o.nats_server, "agent.nats_server: the nats-server binary");
  c->add_option("--nats-version", o.nats_version,
                "agent.nats_version: write the config for this nats-server release (e.g. 2.10.27), when the server\n"
                "that runs it is not agent.nats_server (init or render for the official nats image of a pod)");
}

config::Config load(const Common& o, const config::Environment& env, bool probe_only = false) {
  std::string text, name = o.config_file;
  if (!o.config_file.empty()) {
    if (!fs::exists(o.config_file)) throw config_error("config file " + o.config_file + " does not exist");
    text = fs::read_file(o.config_file);
  } else if (fs::exists(kDefaultConfig)) {
    name = kDefaultConfig;
    text = fs::read_file(kDefaultConfig);
  }
  config::Overrides f;
  if (o.dev) f["agent.mode"] = "dev";
  if (!o.upstream.empty()) {
    std::string joined;
    for (const auto& u : o.upstream) joined += (joined.empty() ? "" : ",") + u;
    f["upstream.urls"] = joined;
  }
  if (!o.creds_file.empty()) f["credentials.source"] = "file", f["credentials.file"] = o.creds_file;
  const std::pair<const std::string*, const char*> simple[] = {
      {&o.state_dir, "agent.state_dir"},       {&o.listen, "local.listen"},
      {&o.monitor, "local.monitor"},           {&o.ready_timeout, "agent.ready_timeout"},
      {&o.log_format, "agent.log_format"},     {&o.log_level, "agent.log_level"},
      {&o.nats_server, "agent.nats_server"},   {&o.local_auth, "local.auth"},
      {&o.nats_version, "agent.nats_version"}};
  for (const auto& [value, key] : simple) {
    if (!value->empty()) f[key] = *value;
  }
  if (o.health_listen_opt != nullptr && o.health_listen_opt->count() > 0) {
    f["agent.health_listen"] = o.health_listen == "\"\"" ? "" : o.health_listen;
  }
  config::Config c = config::load(text, name.empty() ? "config" : name, env, f, probe_only);
  sources::scrub_process_environment(c);
  logging::setup(c.agent.log_format, c.agent.log_level);
  return c;
}

bool ready_now(const config::Config& c, std::string* detail) {
  if (!c.agent.health_listen.empty()) {
    const auto r = health::http_get_local(c.agent.health_listen, "/readyz", 1000);
    if (r.status == 0) {
      *detail = "agent not answering on " + c.agent.health_listen + " (" + r.error + ")";
      return false;
    }
    *detail = r.status == 200 ? "ready" : "not ready: " + r.body;
    while (!detail->empty() && detail->back() == '\n') detail->pop_back();
    return r.status == 200;
  }
  // No probe listener: the ready file, written only while ready and removed on shutdown.
  const std::string ready = render::layout(c).ready;
  if (!fs::exists(ready)) {
    *detail = "not ready: no " + ready;
    return false;
  }
  const pid_t pid = std::atoi(fs::read_file(ready).c_str());
  if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
    *detail = "not ready: stale " + ready + " (agent pid " + std::to_string(pid) + " is gone)";
    return false;
  }
  *detail = "ready";
  return true;
}
// Liveness: the agent's loop answers /livez. A hub outage makes it not ready, never not live.
bool live_now(const config::Config& c, std::string* detail) {
  if (c.agent.health_listen.empty())
    throw config_error("health --live asks /livez on agent.health_listen, which is disabled: set agent.health_listen");
  const auto r = health::http_get_local(c.agent.health_listen, "/livez", 1000);
  if (r.status == 0) {
    *detail = "agent not answering on " + c.agent.health_listen + " (" + r.error + ")";
    return false;
  }
  *detail = r.status == 200 ? "live" : "not live: HTTP " + std::to_string(r.status);
  return r.status == 200;
}
}  // namespace

bool is_agent_command(std::string_view name) {
  static constexpr std::string_view kNames[] = {"run", "init", "render", "config", "health", "wait"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

void add_agent(CLI::App& app, std::string_view only) {
  const auto wanted = [only](std::string_view name) { return only.empty() || only == name; };
  // ---- run ----
  if (wanted("run")) {
    auto run_o = std::make_shared<Common>();
    auto host_cmd = std::make_shared<std::vector<std::string>>();
    CLI::App* run = app.add_subcommand(
        "run",
        "Fetch and validate credentials, write the leaf config, start nats-server, and stay running.\n"
        "With -- CMD ARGS..., start CMD once the leaf is ready (NATS_URL, WASMCLOUD_NATS_HOST, WASMCLOUD_NATS_PORT,\n"
        "WASMCLOUD_JS_DOMAIN set), pass its output through, and exit with its exit code. On SIGTERM: the host stops\n"
        "first, then nats-server.");
    add_common(run, *run_o);
    run->add_option("cmd", *host_cmd, "host command to start once ready (after --)");
    run->callback([run_o, host_cmd] {
      sources::EnvironmentCopy e;
      const config::Config c = load(*run_o, e.env);
      set_exit_code(runner::run(c, e.env, *host_cmd));
    });
  }

  // ---- init ----
  if (wanted("init")) {
    auto init_o = std::make_shared<Common>();
    CLI::App* init = app.add_subcommand(
        "init", "Fetch and validate credentials, write nats.conf and upstream.creds to state_dir, then exit 0\n"
                "(an init container beside the official nats image).");
    add_common(init, *init_o);
    init->callback([init_o] {
      sources::EnvironmentCopy e;
      const config::Config c = load(*init_o, e.env);
      set_exit_code(runner::init(c, e.env));
    });
  }

  // ---- render ----
  if (wanted("render")) {
    auto render_o = std::make_shared<Common>();
    CLI::App* render_cmd = app.add_subcommand(
        "render", "Print the nats-server config that would be written (no secrets in it), for the release of\n"
                  "agent.nats_server (--nats-version: for another, e.g. the server in an init container's pod).");
    add_common(render_cmd, *render_o);
    render_cmd->callback([render_o] {
      const config::Config c = load(*render_o, sources::EnvironmentCopy().env);
      std::optional<nats_version::Version> server = nats_version::parse(c.agent.nats_version);
      if (!server && !c.dev()) {
        server = bootstrap::server_version(c);
      }
      const std::string out = bootstrap::rendered_config(c, nullptr, server);
      std::cout << out;
      // Which release it is for: on standard error, so the config can be piped as it is.
      if (!c.dev()) {
        std::cerr << (server ? "leaf-agent: rendered for nats-server " + server->str() + "\n"
                             : "leaf-agent: rendered for nats-server 2.10 or later (" + c.agent.nats_server +
                                   " --version did not answer; --nats-version X chooses)\n");
      }
    });
  }

  // ---- config ----
  if (wanted("config")) {
    auto config_o = std::make_shared<Common>();
    CLI::App* config_cmd = app.add_subcommand("config", "Print the effective configuration as JSON (secrets elided).");
    add_common(config_cmd, *config_o);
    config_cmd->callback([config_o] {
      const config::Config c = load(*config_o, sources::EnvironmentCopy().env);
      std::cout << config::to_json(c).dump(2) << "\n";
    });
  }

  // ---- health ----
  if (wanted("health")) {
    auto health_o = std::make_shared<Common>();
    auto live = std::make_shared<bool>(false);
    CLI::App* health_cmd = app.add_subcommand(
        "health", "Exit 0 if the agent reports ready, 1 if not (exec probes, docker HEALTHCHECK). Asks /readyz\n"
                  "on agent.health_listen, or checks the ready file when that is disabled.");
    add_common(health_cmd, *health_o);
    health_cmd->add_flag("--live", *live,
                         "ask /livez instead (liveness probe: the agent runs and answers, ready or not)");
    health_cmd->callback([health_o, live] {
      const config::Config c = load(*health_o, sources::EnvironmentCopy().env, true);
      std::string detail;
      const bool ok = *live ? live_now(c, &detail) : ready_now(c, &detail);
      std::cout << detail << "\n";
      if (!ok) set_exit_code(static_cast<int>(Exit::failure));
    });
  }

  // ---- wait ----
  if (wanted("wait")) {
    auto wait_o = std::make_shared<Common>();
    auto timeout = std::make_shared<std::string>("60s");
    CLI::App* wait_cmd = app.add_subcommand(
        "wait", "Block until the agent reports ready (for a host container: leaf-agent wait && exec wasmcloud).\n"
                "Exit 0 when ready, 7 on timeout.");
    add_common(wait_cmd, *wait_o);
    wait_cmd->add_option("--timeout", *timeout, "give up after this long")->capture_default_str();
    wait_cmd->callback([wait_o, timeout] {
      const config::Config c = load(*wait_o, sources::EnvironmentCopy().env, true);
      const auto limit = parse_duration(*timeout);
      if (!limit) throw usage_error("--timeout: want a duration like 30s, 2m");
      const auto deadline = std::chrono::steady_clock::now() + *limit;
      std::string detail;
      while (!ready_now(c, &detail)) {
        if (std::chrono::steady_clock::now() >= deadline) throw Error(Exit::timeout, "not ready after " + *timeout + ": " + detail);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    });
  }
}

std::string version_text() {
  // agent.nats_server as `run` would find it without flags: the environment, else the default
  // config file, else nats-server on PATH.
  config::Config c;
  try {
    const std::string text = fs::exists(kDefaultConfig) ? fs::read_file(kDefaultConfig) : std::string();
    c = config::load(text, kDefaultConfig, sources::EnvironmentCopy().env, {}, true);
  } catch (const std::exception&) {
    if (const char* bin = std::getenv("LEAF_AGENT_AGENT_NATS_SERVER"); bin && *bin) c.agent.nats_server = bin;
  }
  sources::scrub_process_environment(c);  // nats-server --version inherits our environment
  const auto v = bootstrap::server_version(c);
  return std::string("leaf-agent ") + LEAF_AGENT_VERSION + "\n" +
         (v ? "nats-server " + v->str() : std::string("nats-server: none found")) + " (agent.nats_server = " +
         c.agent.nats_server + ")";
}

}  // namespace leaf::cmd
