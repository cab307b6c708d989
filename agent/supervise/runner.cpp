#include "agent/supervise/runner.hpp"

#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <random>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/core/text.hpp"
#include "agent/io/fs.hpp"
#include "agent/io/logging.hpp"
#include "agent/sources/sources.hpp"
#include "agent/supervise/bootstrap.hpp"
#include "agent/supervise/event_loop.hpp"
#include "agent/supervise/health.hpp"
#include "agent/supervise/prewarm.hpp"
#include "agent/supervise/process.hpp"
#include "agent/supervise/status_server.hpp"
#include "agent/supervise/supervisor.hpp"
#include "agent/supervise/worker.hpp"

namespace leaf::runner {

namespace {
using namespace std::chrono_literals;
using supervise::ChildId;
using supervise::TimerKind;
using Json = nlohmann::json;

// What the agent knows of one running child (the spec is built when it is spawned).
struct ChildProc {
  pid_t pid = -1;
  int output_fd = -1;
  std::unique_ptr<process::LineReader> reader;
};

class Runner {
 public:
  Runner(const config::Config& c, config::Environment& env, std::vector<std::string> host_cmd, bool init_only)
      : c_(c), env_(env), host_cmd_(std::move(host_cmd)), init_only_(init_only), log_(logging::agent()),
        worker_(loop_), sup_(policy()) {}

  int run() {
    // One long-lived local client for the periodic check, used only on the worker thread.
    local_client_ = std::make_unique<health::LocalClient>(c_);
    // As PID 1 or not: orphans of the host's processes are re-parented to us and reaped.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    loop_.on_signal([this](int sig) { feed(supervise::SignalReceived{sig}); });
    loop_.on_child_exit([this](pid_t pid, int status) { on_child_exit(pid, status); });
    loop_.on_error([this](const std::string& what) { on_fatal(what); });
    // A health port in use is refused before anything starts.
    if (!init_only_ && !c_.agent.health_listen.empty()) {
      status_ = std::make_unique<StatusServer>(loop_, c_.agent.health_listen, [this](const std::string& p) { return serve(p); });
    }
    // Watched before the bootstrap reads the file, so no change in between is missed.
    if (!init_only_ && !c_.dev() && c_.source() == config::Source::file) watch_creds_dir();
    feed(supervise::Started{});
    loop_.run();
    if (inotify_fd_ >= 0) loop_.unwatch(inotify_fd_), ::close(inotify_fd_);
    return finish();
  }

 private:
  supervise::Policy policy() const {
    supervise::Policy p;
    p.ready_timeout = c_.ready_timeout();
    p.stop_timeout = c_.stop_timeout();
    p.leaf_down_restart = c_.leaf_down_restart();
    p.dev = c_.dev();
    p.acceptance_line = !c_.dev() && c_.agent.template_path.empty();  // the built-in leaf logs it
    p.has_host = !host_cmd_.empty();
    p.init_only = init_only_;
    p.refreshable = !c_.dev() && c_.credentials.source != "env";
    p.refresh_fraction = c_.refresh_fraction();
    p.min_lifetime = c_.min_lifetime();
    return p;
  }

  // A Kubernetes Secret volume is updated by swapping its `..data` symlink, a plain file by a
  // rename or a write: watching the directory sees all three (watching the file would follow the
  // old inode). Without the watch the schedule still re-reads the file.
  void watch_creds_dir() {
    const std::string& file = c_.credentials.file;
    const auto slash = file.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : file.substr(0, slash);
    creds_base_ = slash == std::string::npos ? file : file.substr(slash + 1);
    inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0 ||
        ::inotify_add_watch(inotify_fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0) {
      log_->warn("cannot watch {} for credential updates ({}); the file is re-read on the refresh schedule", dir,
                 std::strerror(errno));
      if (inotify_fd_ >= 0) ::close(inotify_fd_);
      inotify_fd_ = -1;
      return;
    }
    loop_.watch(inotify_fd_, [this] { read_inotify(); });
  }

  void read_inotify() {
    alignas(struct inotify_event) char buf[4096];
    bool relevant = false;
    for (;;) {
      const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t at = 0; at < n;) {
        const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + at);
        const std::string name = ev->len ? std::string(ev->name) : std::string();
        if (name == creds_base_ || name == "..data" || (ev->mask & IN_Q_OVERFLOW)) relevant = true;
        at += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      }
    }
    if (relevant) feed(supervise::CredentialsSourceChanged{});
  }

  double jitter_draw() { return std::uniform_real_distribution<double>(-1.0, 1.0)(rng_); }

  static supervise::CredsLife life_of(const creds::Checked& c, std::int64_t checked_at, const std::string& origin) {
    supervise::CredsLife l;
    l.iat = c.token.issued_at().value_or(checked_at);
    l.exp = c.token.expires().value_or(0);
    l.checked_at = checked_at;
    l.subject = c.subject;
    l.origin = origin;
    return l;
  }

  // ---- events in, actions out ----
  void feed(supervise::Event e) {
    pending_.push_back(std::move(e));
    if (feeding_) return;  // an action fed an event: handled after the current one, in order
    feeding_ = true;
    while (!pending_.empty()) {
      supervise::Event next = std::move(pending_.front());
      pending_.pop_front();
      for (const auto& a : sup_.on(next, loop_.now())) execute(a);
    }
    feeding_ = false;
  }

  void execute(const supervise::Action& a) {
    std::visit([this](const auto& act) { do_action(act); }, a);
  }

  void do_action(const supervise::RunBootstrap&) {
    const auto deadline = std::chrono::steady_clock::now() + c_.ready_timeout();
    start_deadline_ = deadline;
    // The state_dir is locked here, on the loop thread (a few syscalls), so that nats-server can
    // be exec'd into it before the rest of the bootstrap runs (see prewarm.hpp).
    auto locked = std::make_shared<bootstrap::Prepared>();
    try {
      *locked = bootstrap::lock(c_);
    } catch (const Error& e) {
      // Answered like any bootstrap result: from the loop, once it runs.
      return worker_.post([code = static_cast<int>(e.code()), msg = std::string(e.what()), this]() -> Worker::Completion {
        return [this, code, msg] { feed(supervise::BootstrapDone{false, code, msg, {}, {}, 0, {}}); };
      });
    }
    if (!init_only_ && c_.agent.template_path.empty()) {
      // -a/-p repeat the rendered listen: if the agent died before the hand-over, nats-server
      // would read an empty config (EOF) in the moment before its parent-death signal, and must
      // not come up anywhere but there even then. (A user template may say otherwise: no prewarm.)
      const config::HostPort listen = config::parse_listen(c_.local.listen, "local.listen");
      prewarm_ = prewarm::Server::start(
          {c_.agent.nats_server, "-c", locked->layout.nats_conf, "-a", listen.host, "-p", std::to_string(listen.port)},
          nats_env(), locked->layout.nats_conf);
    }
    worker_.post([this, deadline, locked]() -> Worker::Completion {
      bootstrap::Context ctx{c_, env_};
      ctx.thorough = init_only_;
      ctx.cancelled = [this] { return worker_.cancelled().load(); };
      ctx.deadline = deadline;
      ctx.progress = [this](int code, const std::string& error) {
        std::lock_guard<std::mutex> g(progress_mu_);
        progress_ = {code, error};
      };
      try {
        auto p = std::make_shared<bootstrap::Prepared>(bootstrap::run(ctx, std::move(*locked)));
        const std::int64_t checked_at = unix_now();
        return [this, p, checked_at] {
          prepared_ = std::move(*p);
          supervise::BootstrapDone done{true, 0, "", "", {}, 0, {}};
          if (prepared_->creds) {
            done.identity = "user " + prepared_->creds->subject + " of account " + prepared_->creds->account;
            done.creds = life_of(*prepared_->creds, checked_at, prepared_->creds_origin);
          }
          done.jitter_draw = jitter_draw();
          if (prepared_->server_version) done.nats_version = prepared_->server_version->str();
          feed(done);
        };
      } catch (const Error& e) {
        return [this, code = static_cast<int>(e.code()), msg = std::string(e.what())] {
          feed(supervise::BootstrapDone{false, code, msg, {}, {}, 0, {}});
        };
      } catch (const std::exception& e) {
        return [this, msg = std::string(e.what())] { feed(supervise::BootstrapDone{false, 70, "internal error: " + msg, {}, {}, 0, {}}); };
      }
    });
    // The last start's nats.conf goes after the bootstrap, whatever its outcome, as a job of its
    // own: freeing it may wait for the disk (0.8 ms here), and the bootstrap's result, which brings
    // the hand-over, is delivered when its job returns. (Should the agent die first, the next
    // start's lock removes it.)
    if (std::string aside = prewarm_ ? prewarm_->take_aside() : std::string(); !aside.empty()) {
      worker_.post([aside]() -> Worker::Completion {
        ::unlink(aside.c_str());
        return nullptr;
      });
    }
  }

  void do_action(const supervise::CancelBootstrap&) { worker_.cancel(); }

  // On its own thread: a probe of a silent hub takes seconds, and the readiness checks must not
  // wait behind it.
  void do_action(const supervise::RunDiagnosis&) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start_deadline_ - std::chrono::steady_clock::now());
    const auto timeout = std::clamp(left - 250ms, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    diagnosis_.post([this, timeout]() -> Worker::Completion {
      std::optional<std::string> failure;
      try {
        failure = bootstrap::probe_upstream(c_, timeout, [this] { return diagnosis_.cancelled().load(); });
      } catch (const std::exception& e) {
        failure = "upstream check failed: " + text::one_line(e.what());
      }
      return [this, failure] { feed(supervise::UpstreamDiagnosed{!failure, failure.value_or("")}); };
    });
  }

  void do_action(const supervise::RunRefresh&) {
    if (!prepared_) return;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    worker_.post([this, deadline]() -> Worker::Completion {
      try {
        auto r = std::make_shared<bootstrap::Refreshed>(
            bootstrap::refresh_credentials(c_, env_, *prepared_, [this] { return worker_.cancelled().load(); }, deadline));
        return [this, r] {
          if (r->written) {
            prepared_->creds_sha256 = r->sha256;  // the file nats-server may now be started on
            prepared_->creds = r->creds;
            prepared_->creds_origin = r->origin;
          }
          feed(supervise::CredentialsRefreshed{true, "", life_of(r->creds, r->checked_at, r->origin), jitter_draw()});
        };
      } catch (const std::exception& e) {
        return [this, msg = std::string(e.what())] {
          supervise::CredentialsRefreshed f{false, text::one_line(msg), {}, jitter_draw()};
          f.creds.checked_at = unix_now();
          feed(f);
        };
      }
    });
  }

  void do_action(const supervise::Spawn& s) {
    if (s.child == ChildId::nats) return spawn_nats();
    spawn_host();
  }

  void spawn_nats() {
    try {
      // What runs is always what we checked: at a restart, our config written again and our
      // credentials unchanged (at the first start the bootstrap wrote both a moment ago).
      if (nats_spawns_++ > 0) {
        bootstrap::rewrite_nats_conf(*prepared_);
        bootstrap::verify_written_creds(*prepared_);
      }
    } catch (const Error& e) {
      return feed(supervise::ChildExited{ChildId::nats, 1, e.what()});
    }
    if (prewarm_) {
      std::unique_ptr<prewarm::Server> w = std::move(prewarm_);
      if (!prewarm_exited_ && w->hand_over(prepared_->nats_conf)) return adopt_nats(std::move(w));
      // It could not take the config: it goes, and a fresh one starts the usual way.
      if (!prewarm_exited_) w->kill();
      ::close(w->output_fd());
    }
    const auto r = process::try_spawn({c_.agent.nats_server, "-c", prepared_->layout.nats_conf}, nats_env(),
                                      {/*capture=*/true, /*die_with_parent=*/true, /*own_process_group=*/true});
    if (r.error_errno != 0) {
      return feed(supervise::ChildExited{ChildId::nats, process::exec_failure_code(r.error_errno),
                                         "cannot start nats-server " + c_.agent.nats_server + ": " +
                                             std::strerror(r.error_errno) + " (set agent.nats_server)"});
    }
    ChildProc& k = kids_[static_cast<int>(ChildId::nats)];
    k.pid = r.spawned.pid;
    k.output_fd = r.spawned.output_fd;
    k.reader = std::make_unique<process::LineReader>([this](const std::string& l) { on_nats_line(l); });
    loop_.watch(k.output_fd, [this] { read_nats_output(); });
    log_->info("started nats-server (pid {}) with {}", k.pid, prepared_->layout.nats_conf);
    feed(supervise::ChildStarted{ChildId::nats});
  }

  // The pre-warmed nats-server has its config: it is the supervised one from now on. The FIFO is
  // closed once it has read it or closed it (inotify), or has logged (it read the file).
  void adopt_nats(std::unique_ptr<prewarm::Server> w) {
    ChildProc& k = kids_[static_cast<int>(ChildId::nats)];
    k.pid = w->pid();
    k.output_fd = w->output_fd();
    k.reader = std::make_unique<process::LineReader>([this](const std::string& l) { on_nats_line(l); });
    loop_.watch(k.output_fd, [this] { read_nats_output(); });
    log_->info("started nats-server (pid {}) with {} (exec'd during the bootstrap, config handed over now)", k.pid,
               prepared_->layout.nats_conf);
    handing_over_ = std::move(w);
    if (handing_over_->events_fd() >= 0) {
      loop_.watch(handing_over_->events_fd(), [this] {
        if (handing_over_ && (handing_over_->take_events() || handing_over_->drained())) end_hand_over();
      });
      poll_hand_over(250ms, -1);  // a safety net, should no inotify event come
    } else {
      poll_hand_over(1ms, 5000);  // no inotify (e.g. the uid's instances used up): for at most 5 s
    }
    feed(supervise::ChildStarted{ChildId::nats});
  }

  // The FIFO looked at every `every` and closed once drained; after `polls_left` looks (< 0: no
  // limit) it is closed anyway.
  void poll_hand_over(std::chrono::milliseconds every, int polls_left) {
    if (!handing_over_) return;
    if (handing_over_->drained() || polls_left == 0) return end_hand_over();
    loop_.after(every, [this, every, left = polls_left > 0 ? polls_left - 1 : polls_left] { poll_hand_over(every, left); });
  }

  void end_hand_over() {
    if (!handing_over_) return;
    if (handing_over_->events_fd() >= 0) loop_.unwatch(handing_over_->events_fd());
    handing_over_.reset();
  }

  // nats-server's environment: ours without the secret variables a credentials source read.
  std::vector<std::string> nats_env() const { return process::environment(sources::secret_env_names(c_), {}); }

  void spawn_host() {
    const config::HostPort listen = config::parse_listen(c_.local.listen, "local.listen");
    std::vector<std::string> add = {"NATS_URL=" + local_boundary::client_url(c_), "WASMCLOUD_NATS_HOST=" + listen.host,
                                    "WASMCLOUD_NATS_PORT=" + std::to_string(listen.port)};
    if (!c_.upstream.jetstream_domain.empty()) add.push_back("WASMCLOUD_JS_DOMAIN=" + c_.upstream.jetstream_domain);
    for (auto& v : local_boundary::host_env(c_, prepared_->local)) add.push_back(std::move(v));
    const auto env = process::environment(sources::secret_env_names(c_), add);
    // Its own process group: a stop reaches whatever the host started.
    const auto r = process::try_spawn(host_cmd_, env, {false, true, true});
    if (r.error_errno != 0) {
      return feed(supervise::ChildExited{ChildId::host, process::exec_failure_code(r.error_errno),
                                         "cannot start host `" + text::one_line(host_cmd_[0]) +
                                             "`: " + std::strerror(r.error_errno)});
    }
    kids_[static_cast<int>(ChildId::host)].pid = r.spawned.pid;
    log_->info("started host `{}` (pid {})", text::one_line(host_cmd_[0]), r.spawned.pid);
    feed(supervise::ChildStarted{ChildId::host});
  }

  void do_action(const supervise::SendSignal& s) {
    const pid_t pid = kids_[static_cast<int>(s.child)].pid;
    if (pid <= 0) return;
    if (s.sig == SIGUSR1 || s.sig == SIGUSR2) {  // forwarded: the host's to handle, not its children's
      ::kill(pid, s.sig);
      return;
    }
    // A stop: each child leads its own process group, so it reaches what the child started too;
    // SIGCONT so that a stopped (SIGSTOP) child can act on it at once.
    if (::kill(-pid, s.sig) != 0) ::kill(pid, s.sig);
    if (s.sig != SIGKILL) ::kill(-pid, SIGCONT);
  }

  void do_action(const supervise::Schedule& s) {
    do_action(supervise::CancelTimer{s.kind});
    timers_[s.kind] = loop_.after(s.delay, [this, kind = s.kind] {
      timers_.erase(kind);
      if (kind == TimerKind::ready_deadline) {
        supervise::BootstrapProgress p;
        {
          std::lock_guard<std::mutex> g(progress_mu_);
          p = progress_;
        }
        feed(p);
      }
      feed(supervise::TimerFired{kind});
    });
  }

  void do_action(const supervise::CancelTimer& t) {
    if (auto it = timers_.find(t.kind); it != timers_.end()) {
      loop_.cancel(it->second);
      timers_.erase(it);
    }
  }

  void do_action(const supervise::RunCheck& check) {
    worker_.post([this, seq = check.seq]() -> Worker::Completion {
      health::LeafInfo info;
      const health::Report r = health::check_all(c_, true, &info, *local_client_);
      supervise::CheckResult res;
      res.seq = seq;
      res.server_ok = r.server.ok;
      res.healthz_ok = r.healthz.ok;
      res.leaf_listed = r.leaf.ok;
      res.client_ok = r.client.ok;
      res.leaf_accepted = info.accepted;  // the hub's interest: the verdict (Supervisor::on_check)
      res.upstream = info.upstream;
      for (const auto* chk : {&r.server, &r.healthz, &r.leaf, &r.client}) {
        if (!chk->ok) {
          res.failure = chk->detail;
          break;
        }
      }
      return [this, r, res] {
        // For troubleshooting readiness (agent.log_level = "trace"): what each check saw.
        log_->trace("check {}: healthz {} listed {} accepted {} client {}{}", res.seq, res.healthz_ok, res.leaf_listed,
                    res.leaf_accepted, res.client_ok, res.failure.empty() ? "" : " (" + res.failure + ")");
        feed(res);
        // /status shows the checks the supervisor judged on: not a late answer it dropped (begun
        // before a nats-server exit, or arriving while stopping).
        if (sup_.last_check().seq == res.seq) report_ = r;
      };
    });
  }

  void do_action(const supervise::SetReady& s) {
    if (!prepared_) return;
    const std::string& path = prepared_->layout.ready;
    if (s.ready) {
      // Advisory: the probes answer from memory, so a full disk must not take a healthy leaf down.
      try {
        fs::write_atomic(path, std::to_string(::getpid()) + "\n", 0644, fs::Durability::atomic_only);
      } catch (const std::exception& e) {
        log_->warn("cannot write the ready file ({}); /readyz still answers", e.what());
      }
      const auto after = sup_.ready_after();
      log_->info("ready: {}{}", s.why, after && sup_.nats_restarts() == 0 ? " (" + std::to_string(after->count()) + " ms after start)" : "");
    } else {
      ::unlink(path.c_str());
      log_->warn("not ready: {}", s.why);
    }
  }

  void do_action(const supervise::Log& l) {
    const std::string msg = text::one_line(l.message);
    if (l.level == supervise::Log::error) log_->error("{}", msg);
    else if (l.level == supervise::Log::warn) log_->warn("{}", msg);
    else log_->info("{}", msg);
  }

  void do_action(const supervise::Exit& e) {
    code_ = e.code;
    error_ = e.error;
    loop_.stop();
  }

  // ---- children ----
  void read_nats_output() {
    ChildProc& k = kids_[static_cast<int>(ChildId::nats)];
    char buf[4096];
    while (k.output_fd >= 0) {
      const ssize_t n = ::read(k.output_fd, buf, sizeof buf);
      if (n > 0) {
        k.reader->feed(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {  // EOF: the server is exiting
        k.reader->flush();
        loop_.unwatch(k.output_fd);
        ::close(k.output_fd);
        k.output_fd = -1;
      }
      return;
    }
  }

  void on_nats_line(const std::string& raw) {
    end_hand_over();  // it has read its config (from the FIFO or the file)
    supervise::NatsLine l = supervise::classify_nats_line(raw);
    static constexpr spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                                                           spdlog::level::warn,  spdlog::level::err,   spdlog::level::critical};
    logging::nats_server()->log(levels[static_cast<int>(l.level)], l.message);
    feed(supervise::LogLine{std::move(l)});
  }

  void on_child_exit(pid_t pid, int status) {
    for (int i = 0; i < supervise::kChildren; ++i) {
      ChildProc& k = kids_[i];
      if (k.pid != pid) continue;
      if (static_cast<ChildId>(i) == ChildId::nats && k.output_fd >= 0) read_nats_output();
      if (static_cast<ChildId>(i) == ChildId::host) {
        ::kill(-pid, SIGTERM);  // what the host left behind in its group...
        ::kill(-pid, SIGCONT);
        host_group_ = pid;      // ...gets SIGKILL when the agent leaves
      }
      k = ChildProc{};
      return feed(supervise::ChildExited{static_cast<ChildId>(i), process::exit_code(status), ""});
    }
    if (prewarm_ && pid == prewarm_->pid()) prewarm_exited_ = true;  // before its config: started anew later
    // Any other pid: an orphan we reaped, or a short command a worker job waits for.
    process::note_reaped(pid, status);
  }

  // An exception escaped a handler: stop the children in order and exit 70.
  void on_fatal(const std::string& what) {
    try {
      feeding_ = false;
      pending_.clear();
      feed(supervise::Fatal{what});
    } catch (...) {
      for (auto& k : kids_) {
        if (k.pid > 0) ::kill(-k.pid, SIGKILL), ::kill(k.pid, SIGKILL);
      }
      std::fprintf(stderr, "leaf-agent: internal error: %s\n", what.c_str());
      std::_Exit(70);
    }
  }

  int finish() {
    if (prepared_) ::unlink(prepared_->layout.ready.c_str());
    if (prewarm_) {  // never got a config: the bootstrap failed or was stopped
      if (!prewarm_exited_) {
        prewarm_->kill();
        reap_within(prewarm_->pid(), 200ms);  // not left a zombie for a PID 1 that does not reap
      }
      prewarm::Server::remove_fifo(prewarm_->conf_path());
      ::close(prewarm_->output_fd());
      prewarm_.reset();
    }
    // A start that failed leaves no credentials behind (nats-server got them before the upstream
    // was known to be reachable; see bootstrap step 5).
    if (prepared_ && !init_only_ && code_ != 0 && !sup_.ever_ready()) {
      ::unlink(prepared_->layout.creds.c_str());
      ::unlink(prepared_->layout.nats_conf.c_str());
    }
    kill_leftovers();
    // The local chain dies with the agent (init leaves it: another process runs the server).
    if (!init_only_ && prepared_ && prepared_->local.enabled()) local_boundary::remove_files(c_);
    if (!error_.empty()) std::fprintf(stderr, "leaf-agent: %s\n", text::one_line(error_).c_str());
    if (init_only_ && code_ == 0 && prepared_) {
      log_->info("wrote {} and {}{}", prepared_->layout.nats_conf, c_.dev() ? "no credentials (dev mode)" : prepared_->layout.creds,
                 prepared_->server_version ? " (for nats-server " + prepared_->server_version->str() + ")" : std::string());
    }
    diagnosis_.cancel();
    if (!worker_.wait_idle(300ms) || !diagnosis_.wait_idle(50ms)) {
      // A job is stuck in a blocking call (a slow endpoint, a probe): it cannot be joined, and
      // nothing it holds needs saving. Leave now.
      spdlog::default_logger()->flush();
      logging::agent()->flush();
      std::fflush(nullptr);
      std::_Exit(code_);
    }
    return code_;
  }

  static void reap_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (::waitpid(pid, nullptr, WNOHANG) == 0 && std::chrono::steady_clock::now() < end) ::usleep(1000);
  }

  // Nothing the host started outlives the agent's normal exit: its process group, and every
  // orphan re-parented to us (the agent is a subreaper), e.g. a daemon that left the group.
  void kill_leftovers() {
    if (host_group_ > 0) ::kill(-host_group_, SIGKILL);
    // Without a child left (the usual stop: nats-server and the host reaped) there is nothing to
    // look for; the scan of /proc cost each stop a few milliseconds of CPU on a busy node.
    pid_t reaped;
    int status = 0;
    while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0) {
      process::note_reaped(reaped, status);  // a worker job's short command (nats-server -t) waits for it
    }
    if (reaped < 0 && errno == ECHILD) return;
    const std::string me = std::to_string(::getpid());
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(it->path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      const size_t close = line.rfind(')');  // "pid (comm) state ppid ..."; comm may hold spaces
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      std::string state, ppid;
      rest >> state >> ppid;
      if (ppid == me) ::kill(std::stoi(name), SIGKILL);
    }
  }

  // ---- probes: never throw, never emit invalid UTF-8 ----
  HttpResponse serve(const std::string& path) {
    try {
      const auto dump = [](const Json& j, int indent = -1) {
        return j.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n";
      };
      if (path == "/livez") return {200, "application/json", "{\"status\":\"ok\"}\n"};
      if (path == "/readyz") return {sup_.ready() ? 200 : 503, "application/json", dump(readyz_json())};
      if (path == "/status") return {200, "application/json", dump(status_json(), 2)};
      if (path == "/metrics") return {200, "text/plain; version=0.0.4", metrics()};
      return {404, "text/plain", "not found: try /livez /readyz /status /metrics\n"};
    } catch (const std::exception& e) {
      return {500, "text/plain", "internal error\n"};
    }
  }

  Json readyz_json() const {
    Json j = report_.to_json();
    j["ready"] = sup_.ready();
    j["state"] = supervise::phase_name(sup_.phase());
    if (!sup_.ready() && !sup_.last_check().failure.empty()) j["why"] = sup_.last_check().failure;
    return j;
  }

  Json status_json() const {
    Json j;
    j["state"] = supervise::phase_name(sup_.phase());
    j["ready"] = sup_.ready();
    j["mode"] = c_.agent.mode;
    j["upstream"] = {{"urls", c_.upstream.urls},
                     {"connected", sup_.upstream_in_use().empty() ? Json() : Json(sup_.upstream_in_use())}};
    if (prepared_ && prepared_->creds) {
      const auto& t = prepared_->creds->token;
      Json cr = {{"subject", prepared_->creds->subject}, {"account", prepared_->creds->account},
                 {"source", prepared_->creds_origin}};
      if (auto exp = t.expires()) cr["expires_at"] = format_utc(*exp), cr["expires_in_seconds"] = *exp - unix_now();
      else cr["expires_at"] = nullptr;
      if (!sup_.auth_error().empty()) cr["refused"] = sup_.auth_error();
      const auto& rs = sup_.refresh();
      const auto wall = [this](supervise::TimePoint t) {
        return format_utc(unix_now() + std::chrono::duration_cast<std::chrono::seconds>(t - loop_.now()).count());
      };
      cr["refreshable"] = c_.credentials.source != "env";
      cr["next_refresh_at"] = rs.next_at ? Json(wall(*rs.next_at)) : Json();
      cr["refresh_in_flight"] = rs.in_flight;
      cr["refreshes"] = {{"ok", rs.ok_count}, {"error", rs.error_count}};
      if (!rs.last_result.empty()) {
        cr["last_refresh"] = {{"result", rs.last_result}, {"at", wall(*rs.last_at)}};
        if (!rs.last_error.empty()) cr["last_refresh"]["error"] = rs.last_error;
      }
      cr["expiring"] = rs.expiring;
      j["credentials"] = cr;
    }
    const pid_t nats = kids_[static_cast<int>(ChildId::nats)].pid, host = kids_[static_cast<int>(ChildId::host)].pid;
    j["nats_server"] = {{"pid", nats}, {"restarts", sup_.nats_restarts()},
                        {"version", sup_.nats_version().empty() ? Json() : Json(sup_.nats_version())},
                        {"config", prepared_ ? prepared_->layout.nats_conf : std::string()}};
    j["host"] = {{"running", host > 0}, {"pid", host}};
    j["local"] = {{"listen", c_.local.listen}, {"monitor", c_.local.monitor},
                  {"auth", prepared_ ? local_boundary::status(c_, prepared_->local) : Json()}};
    if (auto after = sup_.ready_after()) j["ready_after_ms"] = after->count();
    j["checks"] = report_.to_json()["checks"];
    return j;
  }

  std::string metrics() const {
    std::string m;
    auto gauge = [&m](const char* name, const char* help, double v) {
      m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + std::to_string(v) + "\n";
    };
    gauge("leaf_agent_ready", "1 when the leaf is connected upstream and a local client can talk", sup_.ready() ? 1 : 0);
    gauge("leaf_agent_leaf_connected", "1 when /leafz shows the upstream connection", sup_.last_check().leaf_listed ? 1 : 0);
    m += "# HELP leaf_agent_nats_server_restarts_total nats-server restarts by the agent\n"
         "# TYPE leaf_agent_nats_server_restarts_total counter\nleaf_agent_nats_server_restarts_total " +
         std::to_string(sup_.nats_restarts()) + "\n";
    if (!sup_.nats_version().empty()) {
      m += "# HELP leaf_agent_nats_server_info the nats-server release the agent runs\n"
           "# TYPE leaf_agent_nats_server_info gauge\nleaf_agent_nats_server_info{version=\"" + sup_.nats_version() + "\"} 1\n";
    }
    if (prepared_ && prepared_->creds && prepared_->creds->token.expires()) {
      const auto exp = *prepared_->creds->token.expires();
      gauge("leaf_agent_credentials_expiry_timestamp_seconds", "expiry of the upstream user JWT", static_cast<double>(exp));
      gauge("leaf_agent_credentials_expiry_seconds", "seconds until the upstream user JWT in use expires",
            static_cast<double>(exp - unix_now()));
      gauge("leaf_agent_credentials_expiring", "1 when the credentials are within credentials.min_lifetime of expiry and not renewed",
            sup_.refresh().expiring ? 1 : 0);
    }
    if (prepared_ && prepared_->creds) {
      m += "# HELP leaf_agent_credential_refreshes_total credential refreshes by result\n"
           "# TYPE leaf_agent_credential_refreshes_total counter\n"
           "leaf_agent_credential_refreshes_total{result=\"ok\"} " + std::to_string(sup_.refresh().ok_count) + "\n"
           "leaf_agent_credential_refreshes_total{result=\"error\"} " + std::to_string(sup_.refresh().error_count) + "\n";
    }
    if (auto after = sup_.ready_after()) gauge("leaf_agent_time_to_ready_seconds", "seconds from agent start to first ready", after->count() / 1000.0);
    return m;
  }

  const config::Config& c_;
  config::Environment& env_;
  std::vector<std::string> host_cmd_;
  bool init_only_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<health::LocalClient> local_client_;  // destroyed after the worker that uses it
  EventLoop loop_;  // blocks the signals before any thread starts
  Worker worker_;
  Worker diagnosis_{loop_};  // RunDiagnosis only
  std::chrono::steady_clock::time_point start_deadline_{};
  supervise::Supervisor sup_;
  std::unique_ptr<StatusServer> status_;
  std::optional<bootstrap::Prepared> prepared_;
  ChildProc kids_[supervise::kChildren];
  std::map<TimerKind, EventLoop::TimerId> timers_;
  std::deque<supervise::Event> pending_;
  bool feeding_ = false;
  std::mutex progress_mu_;
  supervise::BootstrapProgress progress_;
  health::Report report_;
  std::mt19937 rng_{static_cast<std::mt19937::result_type>(fs::random_u64())};
  int inotify_fd_ = -1;
  std::string creds_base_;
  int code_ = 0;
  std::string error_;
  pid_t host_group_ = -1;
  int nats_spawns_ = 0;
  std::unique_ptr<prewarm::Server> prewarm_;       // exec'd at RunBootstrap, waiting for its config
  bool prewarm_exited_ = false;
  std::unique_ptr<prewarm::Server> handing_over_;  // adopted; its FIFO not yet drained
};

}  // namespace

int run(const config::Config& c, config::Environment& env, const std::vector<std::string>& host_cmd) {
  Runner r(c, env, host_cmd, false);
  return r.run();
}

int init(const config::Config& c, config::Environment& env) {
  Runner r(c, env, {}, true);
  return r.run();
}

}  // namespace leaf::runner
