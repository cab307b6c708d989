#include "agent/supervise/runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <deque>
#include <filesystem>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/supervise/event_loop.hpp"
#include "agent/io/fs.hpp"
#include "agent/supervise/health.hpp"
#include "agent/io/logging.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/preflight/preflight.hpp"
#include "agent/supervise/process.hpp"
#include "agent/sources/sources.hpp"
#include "agent/supervise/status_server.hpp"

namespace leaf::runner {

namespace {
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string server_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string name = std::string("leaf-") + host;
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '-';
  }
  return name;
}

void check_files(const config::Config& c) {
  if (c.dev()) return;
  if (!c.upstream.ca_file.empty()) pki::check_ca_file(c.upstream.ca_file);
  if (!c.upstream.cert_file.empty()) pki::check_cert_key_pair(c.upstream.cert_file, c.upstream.key_file);
  if (!c.agent.template_path.empty() && !fs::exists(c.agent.template_path)) {
    throw config_error("agent.template: " + c.agent.template_path + " does not exist");
  }
  const auto& cr = c.credentials;
  if (cr.source == "http") {
    if (!cr.http_ca_file.empty()) pki::check_ca_file(cr.http_ca_file);
    if (!cr.http_cert_file.empty()) pki::check_cert_key_pair(cr.http_cert_file, cr.http_key_file);
  }
}

// "nats-server: v2.9.10" -> {2, 9, 10}; nullopt when it cannot be run.
std::optional<std::array<int, 3>> server_version(const std::string& binary) {
  process::Captured out;
  try {
    out = process::run_capture({binary, "--version"});
  } catch (const Error&) {
    return std::nullopt;
  }
  std::array<int, 3> v{};
  const size_t at = out.output.find('v');
  if (at == std::string::npos || std::sscanf(out.output.c_str() + at, "v%d.%d.%d", &v[0], &v[1], &v[2]) != 3) {
    return std::nullopt;
  }
  return v;
}

// nats-server -t: the server itself judges the config before we depend on it.
void server_check_config(const config::Config& c, const std::string& conf_path) {
  process::Captured r;
  try {
    r = process::run_capture({c.agent.nats_server, "-t", "-c", conf_path});
  } catch (const Error&) {
    throw Error(Exit::server, "cannot run " + c.agent.nats_server + " (is it installed and on PATH? set agent.nats_server)");
  }
  if (r.exit_code == 0) return;
  std::string& out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  std::string hint;
  if (out.find("unknown field") != std::string::npos) {
    hint = "; the installed nats-server is too old for an option in this config";
  }
  throw config_error("nats-server rejected the rendered config " + conf_path + ": " + out + hint);
}

}  // namespace

std::string rendered_config(const config::Config& c, const local_boundary::Chain* local) {
  std::string tmpl = render::builtin_template(c);
  std::string name = c.dev() ? "dev.conf (built in)" : "leafnode.conf (built in)";
  if (!c.agent.template_path.empty()) {
    tmpl = fs::read_file(c.agent.template_path);
    name = c.agent.template_path;
  }
  return render::nats_config(c, tmpl, name, server_name(), local);  // [local-boundary] pass the chain
}

Prepared check(const config::Config& c, const config::Environment& env) {
  Prepared p;
  p.layout = render::layout(c);
  check_files(c);
  if (c.upstream.handshake_first) {
    const auto v = server_version(c.agent.nats_server);
    if (v && ((*v)[0] < 2 || ((*v)[0] == 2 && (*v)[1] < 10))) {
      throw config_error("upstream.handshake_first needs nats-server >= 2.10, but " + c.agent.nats_server + " is v" +
                         std::to_string((*v)[0]) + "." + std::to_string((*v)[1]) + "." + std::to_string((*v)[2]));
    }
  }
  p.local = local_boundary::mint(c, unix_now());  // [local-boundary] hook 1: mint the local chain
  p.nats_conf = rendered_config(c, &p.local);
  if (!c.dev()) {
    const auto now = unix_now();
    sources::Fetched f = sources::fetch(c, env, now);
    p.creds = sources::check_for_leaf(f, c, now);
    p.creds_origin = f.origin;
    p.creds_text = std::move(f.creds);
    const auto exp = p.creds->token.expires();
    logging::agent()->info("credentials from {}: user {} account {} ({})", f.origin, p.creds->subject, p.creds->account,
                           exp ? "expires in " + format_duration(Seconds(*exp - now)) : std::string("no expiry"));
  }
  return p;
}

void write(const config::Config& c, Prepared& p) {
  fs::ensure_private_dir(p.layout.dir, 0700);
  if (::access(p.layout.ready.c_str(), F_OK) == 0) ::unlink(p.layout.ready.c_str());  // stale from a previous run
  if (!c.dev()) fs::write_atomic(p.layout.creds, p.creds_text, 0600);
  local_boundary::write_files(c, p.local);  // [local-boundary] hook 2: local.creds + health.creds (0600)
  fs::write_atomic(p.layout.nats_conf, p.nats_conf, 0600);
  server_check_config(c, p.layout.nats_conf);
}

Prepared prepare(const config::Config& c, const config::Environment& env) {
  Prepared p = check(c, env);
  write(c, p);
  return p;
}

namespace {

class Runner {
 public:
  Runner(const config::Config& c, const config::Environment& env, std::vector<std::string> host_cmd)
      : c_(c), env_(env), host_cmd_(std::move(host_cmd)), log_(logging::agent()) {}

  int run() {
    started_ = Clock::now();
    prepared_ = runner::check(c_, env_);
    if (!c_.dev()) preflight();  // before anything is written: an unreachable hub leaves no files
    runner::write(c_, prepared_);
    if (!c_.agent.health_listen.empty()) {
      status_ = std::make_unique<StatusServer>(loop_, c_.agent.health_listen, [this](const std::string& p) { return serve(p); });
    }
    loop_.on_signal([this](int sig) { on_signal(sig); });
    loop_.on_child_exit([this](pid_t pid, int status) { on_child_exit(pid, status); });
    launch_nats();
    ready_deadline_ = loop_.after(c_.ready_timeout(), [this] { on_ready_timeout(); });
    loop_.run();
    return exit_code_;
  }

 private:
  // ---- preflight: before anything starts, say what is wrong with the upstream in one line ----
  void preflight() {
    const preflight::Tls tls{c_.upstream.ca_file, c_.upstream.cert_file, c_.upstream.key_file, c_.upstream.server_name,
                             c_.upstream.handshake_first};
    const auto deadline = Clock::now() + c_.ready_timeout();
    std::string last;
    for (int round = 0;; ++round) {
      int ok = 0;
      std::vector<std::string> failures;
      for (const auto& url : c_.upstream.urls) {
        const auto t0 = Clock::now();
        const preflight::Probe p = preflight::probe(url, tls, 5s);
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        if (p.ok) ++ok, fastest_probe_ = std::min(fastest_probe_, took);
        else failures.push_back(p.error);
      }
      if (ok > 0) {
        for (const auto& f : failures) log_->warn("preflight: {} (another upstream URL works)", f);
        log_->info("preflight: {} of {} upstream URL(s) reachable with TLS verified", ok, c_.upstream.urls.size());
        return;
      }
      last = failures.front();
      if (round == 0) log_->warn("preflight: {}; retrying until agent.ready_timeout ({})", last, c_.agent.ready_timeout);
      if (Clock::now() + 1s >= deadline) break;
      // Sleep one second, but wake for SIGTERM/SIGINT: nothing has started, so just leave.
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGTERM);
      sigaddset(&s, SIGINT);
      const timespec one{1, 0};
      if (sigtimedwait(&s, nullptr, &one) > 0) throw Error(Exit::ok, "stopped during preflight");
    }
    throw Error(Exit::upstream, "upstream unreachable: " + last);
  }

  // ---- nats-server ----
  void launch_nats() {
    const auto env = process::environment(sources::secret_env_names(c_), {});
    const auto s = process::spawn({c_.agent.nats_server, "-c", prepared_.layout.nats_conf}, env, true, true);
    nats_pid_ = s.pid;
    nats_fd_ = s.output_fd;
    log_->info("started nats-server (pid {}) with {}", nats_pid_, prepared_.layout.nats_conf);
    reader_ = std::make_unique<process::LineReader>([this](const std::string& l) { on_nats_line(l); });
    loop_.watch(nats_fd_, [this] { read_nats_output(); });
    schedule_check(200ms);  // fallback: the log line is the fast path
  }

  void read_nats_output() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(nats_fd_, buf, sizeof buf);
      if (n > 0) {
        reader_->feed(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {  // EOF: the server closed its output (it is exiting)
        reader_->flush();
        loop_.unwatch(nats_fd_);
        ::close(nats_fd_);
        nats_fd_ = -1;
      }
      return;
    }
  }

  void on_nats_line(const std::string& line) {
    const std::string msg = logging::relay_nats_line(line);
    recent_.push_back(msg);
    if (recent_.size() > 20) recent_.pop_front();
    if (msg.find("Leafnode connection created") != std::string::npos || msg.find("Server is ready") != std::string::npos ||
        msg.find("Leafnode connection closed") != std::string::npos) {
      // The line comes a moment before /leafz lists the connection: confirm now, then retry
      // quickly for a little while rather than wait for the slow fallback poll.
      fast_checks_ = 20;
      schedule_check(0ms);
    }
    if (msg.find("Leafnode Error") != std::string::npos || msg.find("Authorization Violation") != std::string::npos) {
      leaf_seen_.reset();  // whatever /leafz lists now is being refused
    }
    if (msg.find("Authorization Violation") != std::string::npos ||
        msg.find("Authentication Expired") != std::string::npos ||
        msg.find("authorization violation") != std::string::npos) {
      auth_error_ = "the upstream refused the leaf credentials (" +
                    std::string(msg.find("Expired") != std::string::npos ? "Authentication Expired" : "Authorization Violation") +
                    ") for user " + (prepared_.creds ? prepared_.creds->subject : "?") + " of account " +
                    (prepared_.creds ? prepared_.creds->account : "?") +
                    ": check that the hub trusts this account and the user is not revoked";
      if (auth_error_ != last_logged_auth_) log_->error("{}", auth_error_);
      last_logged_auth_ = auth_error_;
    }
  }

  // ---- readiness ----
  void schedule_check(std::chrono::milliseconds delay) {
    if (check_timer_) loop_.cancel(check_timer_);
    check_timer_ = loop_.after(delay, [this] {
      check_timer_ = 0;
      check();
    });
  }

  void check() {
    if (stopping_) return;
    health::LeafInfo info;
    report_ = health::check_all(c_, nats_pid_ > 0, &info);
    std::chrono::milliseconds settle_left{0};
    if (!c_.dev()) confirm_leaf(info, &settle_left);
    const bool now_ready = report_.ready();
    if (info.connected) upstream_in_use_ = info.upstream;
    if (now_ready && !ready_) {
      ready_ = true;
      ever_ready_ = true;
      backoff_ = 1s;
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
      if (!ready_ms_) ready_ms_ = ms;
      if (ready_deadline_) loop_.cancel(ready_deadline_), ready_deadline_ = 0;
      fs::write_atomic(prepared_.layout.ready, std::to_string(::getpid()) + "\n", 0644);
      log_->info("ready: {} ({} ms after start)", c_.dev() ? "dev nats-server up" : "leaf connected to " + upstream_in_use_, ms);
      start_host();
    } else if (!now_ready && ready_) {
      ready_ = false;
      ::unlink(prepared_.layout.ready.c_str());
      log_->warn("not ready: {}", first_failure());
    }
    // Once ready, confirm every few seconds (the hub can go away); before, poll as a fallback,
    // quickly right after a log line said something changed.
    if (ready_) schedule_check(5s);
    else if (settle_left.count() > 0) schedule_check(settle_left);
    else if (fast_checks_ > 0) --fast_checks_, schedule_check(10ms);
    else schedule_check(500ms);
  }

  // A listed leaf connection counts once the hub has answered (RTT), or once it has stayed up,
  // with no refusal logged, for longer than our preflight took to reach that hub (several round
  // trips; the hub's verdict on CONNECT takes one), and at least 50 ms.
  void confirm_leaf(const health::LeafInfo& info, std::chrono::milliseconds* settle_left) {
    if (!info.connected) {
      leaf_seen_.reset();
      return;
    }
    if (!leaf_seen_) leaf_seen_ = Clock::now();
    if (info.rtt_measured) return;
    const auto settle = std::max(std::chrono::milliseconds(50), fastest_probe_);
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *leaf_seen_);
    if (age >= settle) return;
    *settle_left = settle - age;
    report_.leaf = {false, "leaf connection to " + info.upstream + " settling (" + std::to_string(settle_left->count()) + " ms)"};
    report_.client = {false, "not checked yet"};
  }

  std::string first_failure() const {
    for (const auto* chk : {&report_.server, &report_.healthz, &report_.leaf, &report_.client}) {
      if (!chk->ok) return chk->detail;
    }
    return "unknown";
  }

  void on_ready_timeout() {
    ready_deadline_ = 0;
    if (ready_ || stopping_) return;
    const std::string why = auth_error_.empty() ? "not ready within " + c_.agent.ready_timeout + ": " + first_failure() : auth_error_;
    log_->error("{}", why);
    fail(auth_error_.empty() ? Exit::timeout : Exit::credentials, why);
  }

  // ---- the host ----
  void start_host() {
    if (host_cmd_.empty() || host_pid_ > 0 || host_started_) return;
    const config::HostPort listen = config::parse_listen(c_.local.listen, "local.listen");
    std::vector<std::string> add = {"NATS_URL=nats://" + listen.str(), "WASMCLOUD_NATS_HOST=" + listen.host,
                                    "WASMCLOUD_NATS_PORT=" + std::to_string(listen.port)};
    if (!c_.upstream.jetstream_domain.empty()) add.push_back("WASMCLOUD_JS_DOMAIN=" + c_.upstream.jetstream_domain);
    for (auto& v : local_boundary::host_env(c_, prepared_.local)) add.push_back(std::move(v));  // [local-boundary] hook 3
    const auto env = process::environment(sources::secret_env_names(c_), add);
    try {
      host_pid_ = process::spawn(host_cmd_, env, false, false).pid;
    } catch (const Error& e) {
      log_->error("{}", e.what());
      return fail(Exit::failure, e.what());
    }
    host_started_ = true;
    log_->info("started host `{}` (pid {})", host_cmd_[0], host_pid_);
  }

  // ---- children, signals, shutdown: host first, then the leaf ----
  void on_child_exit(pid_t pid, int status) {
    const int code = process::exit_code(status);
    if (pid == host_pid_) {
      host_pid_ = -1;
      log_->info("host exited with code {}", code);
      exit_code_ = code;  // the host only runs once ready, so its code is the outcome
      shutdown();
    } else if (pid == nats_pid_) {
      nats_pid_ = -1;
      if (nats_fd_ >= 0) read_nats_output();
      if (stopping_) return shutdown();
      ready_ = false;
      ::unlink(prepared_.layout.ready.c_str());
      if (!ever_ready_) {
        std::string tail;
        for (const auto& l : recent_) tail = l;  // the last thing it said
        return fail(Exit::server, "nats-server exited with code " + std::to_string(code) + " before ready: " + tail);
      }
      ++restarts_;
      log_->error("nats-server exited with code {}; restarting in {} s", code, backoff_.count());
      loop_.after(backoff_, [this] {
        if (!stopping_) launch_nats();
      });
      backoff_ = std::min(backoff_ * 2, std::chrono::seconds(30));
    }
    // Any other pid: an orphan we reaped as PID 1. Nothing to do.
  }

  void on_signal(int sig) {
    if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
      log_->info("received {}, shutting down (host first, then nats-server)", strsignal(sig));
      shutdown();
    } else if (sig == SIGHUP) {
      log_->info("SIGHUP ignored: credentials are re-read at the next leaf reconnect");
    }
  }

  void fail(Exit code, const std::string& why) {
    if (stopping_) return;
    failure_ = why;
    exit_code_ = static_cast<int>(code);
    shutdown();
  }

  void shutdown() {
    stopping_ = true;
    ready_ = false;  // stop sending traffic our way while we go
    if (check_timer_) loop_.cancel(check_timer_), check_timer_ = 0;
    ::unlink(prepared_.layout.ready.c_str());
    // One child at a time, each continuing here when it has exited: host first, then the leaf.
    if (host_pid_ > 0) return terminate(host_pid_, host_term_sent_, "host");
    if (nats_pid_ > 0) return terminate(nats_pid_, nats_term_sent_, "nats-server");
    if (!failure_.empty()) std::fprintf(stderr, "leaf-agent: %s\n", failure_.c_str());
    if (prepared_.local.enabled()) local_boundary::remove_files(c_);  // [local-boundary] hook 5: the chain dies with us
    loop_.stop();
  }

  // SIGTERM once, SIGKILL if `pid` is still that child 10 s later.
  void terminate(const pid_t& pid, bool& term_sent, const char* name) {
    if (term_sent) return;
    term_sent = true;
    ::kill(pid, SIGTERM);
    loop_.after(10s, [this, &pid, target = pid, name] {
      if (pid == target) log_->warn("{} did not stop in 10 s; killing it", name), ::kill(target, SIGKILL);
    });
  }

  // ---- probes ----
  HttpResponse serve(const std::string& path) {
    if (path == "/livez") return {200, "application/json", "{\"status\":\"ok\"}\n"};
    if (path == "/readyz") return {ready_ ? 200 : 503, "application/json", report_.to_json().dump() + "\n"};
    if (path == "/status") return {200, "application/json", status_json().dump(2) + "\n"};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4", metrics()};
    return {404, "text/plain", "not found: try /livez /readyz /status /metrics\n"};
  }

  nlohmann::json status_json() const {
    nlohmann::json j;
    j["state"] = stopping_ ? "stopping" : ready_ ? "ready" : ever_ready_ ? "degraded" : "starting";
    j["ready"] = ready_;
    j["mode"] = c_.agent.mode;
    j["upstream"] = {{"urls", c_.upstream.urls}, {"connected", upstream_in_use_.empty() ? nlohmann::json() : nlohmann::json(upstream_in_use_)}};
    if (prepared_.creds) {
      const auto& t = prepared_.creds->token;
      nlohmann::json cr = {{"subject", prepared_.creds->subject}, {"account", prepared_.creds->account},
                           {"source", prepared_.creds_origin}};
      if (auto exp = t.expires()) cr["expires_at"] = format_utc(*exp), cr["expires_in_seconds"] = *exp - unix_now();
      else cr["expires_at"] = nullptr;
      j["credentials"] = cr;
    }
    j["nats_server"] = {{"pid", nats_pid_}, {"restarts", restarts_}, {"config", prepared_.layout.nats_conf}};
    j["host"] = {{"running", host_pid_ > 0}, {"pid", host_pid_}};
    j["local"] = {{"listen", c_.local.listen}, {"monitor", c_.local.monitor},
                  {"auth", local_boundary::status(c_, prepared_.local)}};  // [local-boundary] hook 4
    if (ready_ms_) j["ready_after_ms"] = *ready_ms_;
    j["checks"] = report_.to_json()["checks"];
    return j;
  }

  std::string metrics() const {
    std::string m;
    auto gauge = [&m](const char* name, const char* help, double v) {
      m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + std::to_string(v) + "\n";
    };
    gauge("leaf_agent_ready", "1 when the leaf is connected upstream and a local client can talk", ready_ ? 1 : 0);
    gauge("leaf_agent_leaf_connected", "1 when /leafz shows the upstream connection", report_.leaf.ok ? 1 : 0);
    m += "# HELP leaf_agent_nats_server_restarts_total nats-server restarts by the agent\n"
         "# TYPE leaf_agent_nats_server_restarts_total counter\nleaf_agent_nats_server_restarts_total " +
         std::to_string(restarts_) + "\n";
    if (prepared_.creds && prepared_.creds->token.expires()) {
      gauge("leaf_agent_credentials_expiry_timestamp_seconds", "expiry of the upstream user JWT",
            static_cast<double>(*prepared_.creds->token.expires()));
    }
    if (ready_ms_) gauge("leaf_agent_time_to_ready_seconds", "seconds from agent start to first ready", *ready_ms_ / 1000.0);
    return m;
  }

  const config::Config& c_;
  const config::Environment& env_;
  std::vector<std::string> host_cmd_;
  std::shared_ptr<spdlog::logger> log_;
  EventLoop loop_;
  Prepared prepared_;
  std::unique_ptr<StatusServer> status_;
  std::unique_ptr<process::LineReader> reader_;
  Clock::time_point started_;
  pid_t nats_pid_ = -1, host_pid_ = -1;
  int nats_fd_ = -1;
  bool ready_ = false, ever_ready_ = false, stopping_ = false, host_started_ = false;
  bool host_term_sent_ = false, nats_term_sent_ = false;
  int restarts_ = 0;
  int fast_checks_ = 0;
  std::chrono::milliseconds fastest_probe_{5000};
  std::optional<Clock::time_point> leaf_seen_;
  int exit_code_ = 0;
  std::chrono::seconds backoff_{1};
  std::optional<long> ready_ms_;
  EventLoop::TimerId check_timer_ = 0, ready_deadline_ = 0;
  health::Report report_;
  std::string upstream_in_use_, auth_error_, last_logged_auth_, failure_;
  std::deque<std::string> recent_;
};

}  // namespace

int run(const config::Config& c, const config::Environment& env, const std::vector<std::string>& host_cmd) {
  Runner r(c, env, host_cmd);
  return r.run();
}

}  // namespace leaf::runner
