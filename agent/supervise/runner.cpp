#include "agent/supervise/runner.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/config/nats_version.hpp"
#include "agent/core/text.hpp"
#include "agent/io/fs.hpp"
#include "agent/io/logging.hpp"
#include "agent/preflight/upstream_probe.hpp"
#include "agent/sources/file_watch.hpp"
#include "agent/sources/sources.hpp"
#include "agent/store/credential_store.hpp"
#include "agent/supervise/bootstrap.hpp"
#include "agent/supervise/child.hpp"
#include "agent/supervise/event_loop.hpp"
#include "agent/supervise/health.hpp"
#include "agent/supervise/prewarm.hpp"
#include "agent/supervise/process.hpp"
#include "agent/supervise/status_server.hpp"
#include "agent/supervise/status_views.hpp"
#include "agent/supervise/supervisor.hpp"
#include "agent/supervise/worker.hpp"

namespace leaf::runner {

namespace {
using namespace std::chrono_literals;
using supervise::ChildId;
using supervise::TimerKind;

// Carries out the supervisor's actions and turns what happens (signals, child exits, output
// lines, timers, finished jobs) into its events. It decides nothing: every "when" and "whether"
// is supervisor.cpp's. Blocking work runs on workers, one per kind, so that none waits behind
// another: the bootstrap and refreshes (`jobs_`), readiness checks (`checks_`), the upstream
// diagnosis (`diagnosis_`).
class Runner {
 public:
  Runner(const config::Config& c, config::Environment& env, std::vector<std::string> host_cmd, bool init_only)
      : c_(c), env_(env), host_cmd_(std::move(host_cmd)), init_only_(init_only), log_(logging::agent()),
        sup_(policy()) {}

  int run() {
    // One long-lived local client for the periodic check, used only on the checks' thread.
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
    // Watched before the bootstrap reads the file: a change in between is kept for after it.
    if (!init_only_ && !c_.dev() && c_.source() == config::Source::file) watch_creds_file();
    feed(supervise::Started{});
    loop_.run();
    if (watch_) loop_.unwatch(watch_->fd()), watch_.reset();
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
    p.rotate = c_.credentials.rotate == "toggle"   ? supervise::Policy::Rotate::toggle
               : c_.credentials.rotate == "expiry" ? supervise::Policy::Rotate::expiry
                                                   : supervise::Policy::Rotate::automatic;
    return p;
  }

  void watch_creds_file() {
    std::string error;
    watch_ = sources::FileWatch::open(c_.credentials.file, error);
    if (!watch_) {
      log_->warn("cannot watch {} for credential updates ({}); the file is re-read on the refresh schedule",
                 c_.credentials.file, error);
      return;
    }
    loop_.watch(watch_->fd(), [this] {
      if (watch_->changed()) feed(supervise::CredentialsSourceChanged{});
    });
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

  Child& child(ChildId id) { return id == ChildId::nats ? nats_ : host_; }

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

  // Answered from the loop like any other job's result.
  void post_result(Worker& w, supervise::Event e) {
    w.post([this, e = std::move(e)]() -> Worker::Completion { return [this, e] { feed(e); }; });
  }

  void do_action(const supervise::RunBootstrap&) {
    const auto deadline = loop_.now() + c_.ready_timeout();
    start_deadline_ = deadline;
    // The state_dir is locked here, on the loop thread (a few syscalls), so that nats-server can
    // be exec'd into it before the rest of the bootstrap runs (see prewarm.hpp).
    auto locked = std::make_shared<bootstrap::Prepared>();
    try {
      *locked = bootstrap::lock(c_);
    } catch (const Error& e) {
      return post_result(jobs_, supervise::BootstrapDone{false, static_cast<int>(e.code()), e.what(), {}, {}, 0, {}});
    }
    if (!init_only_ && c_.agent.template_path.empty()) {
      // -a/-p repeat the rendered listen: if the agent died before the hand-over, nats-server
      // would read an empty config (EOF) in the moment before its parent-death signal, and must
      // not come up anywhere but there even then. (A user template may say otherwise: no prewarm.)
      const config::HostPort listen = config::parse_listen(c_.local.listen, "local.listen");
      prewarm_ = prewarm::Server::start(
          {c_.agent.nats_server, "-c", locked->layout.nats_conf, "-a", listen.host, "-p", std::to_string(listen.port)},
          child_env(), locked->layout.nats_conf);
    }
    jobs_.post([this, deadline, locked]() -> Worker::Completion {
      bootstrap::Context ctx{c_, env_};
      ctx.thorough = init_only_;
      ctx.cancelled = [this] { return jobs_.cancelled().load(); };
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
          if (const auto& in_use = prepared_->creds.in_use()) {
            done.identity = "user " + in_use->subject + " of account " + in_use->account;
            done.creds = life_of(*in_use, checked_at, prepared_->creds.origin());
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
      jobs_.post([aside]() -> Worker::Completion {
        ::unlink(aside.c_str());
        return nullptr;
      });
    }
  }

  void do_action(const supervise::CancelBootstrap&) { jobs_.cancel(); }

  // A probe of a silent hub takes seconds: its own worker.
  void do_action(const supervise::RunDiagnosis&) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start_deadline_ - loop_.now());
    const auto timeout = std::clamp(left - 250ms, std::chrono::milliseconds(100), std::chrono::milliseconds(5000));
    diagnosis_.post([this, timeout]() -> Worker::Completion {
      std::optional<std::string> failure;
      try {
        failure = preflight::probe_upstream(c_, timeout, [this] { return diagnosis_.cancelled().load(); });
      } catch (const std::exception& e) {
        failure = "upstream check failed: " + text::one_line(e.what());
      }
      return [this, failure] { feed(supervise::UpstreamDiagnosed{!failure, failure.value_or("")}); };
    });
  }

  // The worker fetches and checks (store::take); the loop commits, so the file and the hash a
  // restart verifies against change together.
  void do_action(const supervise::RunRefresh&) {
    if (!prepared_ || !prepared_->creds.in_use()) return;
    const auto deadline = loop_.now() + 30s;
    jobs_.post([this, deadline, in_use = *prepared_->creds.in_use()]() -> Worker::Completion {
      try {
        auto next = std::make_shared<store::Candidate>(
            store::take(c_, env_, unix_now(), [this] { return jobs_.cancelled().load(); }, deadline, &in_use));
        return [this, next] { commit_refresh(*next); };
      } catch (const std::exception& e) {
        return [this, msg = std::string(e.what())] { refresh_failed(msg); };
      }
    });
  }

  void commit_refresh(const store::Candidate& next) {
    if (!prepared_) return;
    bool staged = false, toggle = false;
    try {
      if (!store::same_credentials(next, *prepared_->creds.in_use())) {
        const auto server = nats_version::parse(sup_.nats_version());
        staged = sup_.rotates_by_reload() && prepared_->stage(c_, next, server);
        if (!staged) {
          prepared_->commit(next);
          toggle = sup_.rotates_by_toggle() && prepared_->prepare_toggle(c_, server);
        }
      }
    } catch (const std::exception& e) {
      return refresh_failed(e.what());
    }
    supervise::CredentialsRefreshed done{true, "", life_of(next.creds, next.checked_at, next.origin), jitter_draw()};
    done.staged = staged;
    done.toggle = toggle;
    feed(done);
  }

  void do_action(const supervise::ForgetPreviousCredentials&) {
    if (prepared_) prepared_->forget_previous();
  }

  void do_action(const supervise::SwitchRemote& s) {
    if (!prepared_) return;
    try {
      prepared_->switch_remote(s.enabled);
    } catch (const std::exception& e) {
      // Disabling: the reload that follows applies the config as it was, and the move falls back.
      // Enabling: nats.conf may hold the disabled remote: only a restart (which writes the config
      // as checked first, or fails loudly) makes sure no disabled leaf goes on running.
      const bool restart = s.enabled && sup_.phase() != supervise::Phase::stopping;  // stopping: it goes anyway
      log_->error("cannot write the config {} the leaf's remote: {}{}", s.enabled ? "enabling" : "disabling", e.what(),
                  restart ? "; restarting nats-server" : "");
      if (restart) execute(supervise::SendSignal{ChildId::nats, SIGTERM});
    }
  }

  void do_action(const supervise::UnstageCredentials& u) {
    if (!prepared_) return;
    try {
      prepared_->unstage(u.keep_staged);
    } catch (const std::exception& e) {
      log_->error("cannot write the rotated credentials where the running nats-server reads them: {}", e.what());
    }
  }

  void refresh_failed(const std::string& why) {
    supervise::CredentialsRefreshed f{false, text::one_line(why), {}, jitter_draw()};
    f.creds.checked_at = unix_now();
    feed(f);
  }

  void do_action(const supervise::Spawn& s) {
    if (s.child == ChildId::nats) return spawn_nats(s.again);
    spawn_host();
  }

  // What nats-server and the host inherit: the agent's environment without any variable that
  // may carry a secret.
  std::vector<std::string> child_env(std::vector<std::string> add = {}) const {
    return process::environment(sources::child_env_drop(c_), add);
  }

  void spawn_nats(bool again) {
    if (again) {
      // What runs is always what we checked: our config written again, our credentials unchanged.
      try {
        prepared_->rewrite_nats_conf();
        prepared_->creds.verify();
        if (!prepared_->staged) prepared_->creds.remove_other();  // a fallback's copy: the config names the other
      } catch (const Error& e) {
        return feed(supervise::ChildExited{ChildId::nats, 1, e.what()});
      }
    }
    auto on_line = [this](const std::string& l) { on_nats_line(l); };
    nats_lines_.reset();
    if (prewarm_) {
      std::unique_ptr<prewarm::Server> w = std::move(prewarm_);
      if (!prewarm_exited_ && w->hand_over(prepared_->nats_conf)) {
        nats_.adopt(w->pid(), w->output_fd(), on_line);
        log_->info("started nats-server (pid {}) with {} (exec'd during the bootstrap, config handed over now)", w->pid(),
                   prepared_->layout.nats_conf);
        handing_over_ = std::make_unique<prewarm::HandOver>(loop_, std::move(w));
        return feed(supervise::ChildStarted{ChildId::nats});
      }
      // It could not take the config: it goes, and a fresh one starts the usual way.
      if (!prewarm_exited_) w->kill();
      ::close(w->output_fd());
    }
    if (const int err = nats_.start({c_.agent.nats_server, "-c", prepared_->layout.nats_conf}, child_env(), on_line)) {
      return feed(supervise::ChildExited{ChildId::nats, process::exec_failure_code(err),
                                         "cannot start nats-server " + c_.agent.nats_server + ": " + std::strerror(err) +
                                             " (set agent.nats_server)"});
    }
    log_->info("started nats-server (pid {}) with {}", nats_.pid(), prepared_->layout.nats_conf);
    feed(supervise::ChildStarted{ChildId::nats});
  }

  void spawn_host() {
    const config::HostPort listen = config::parse_listen(c_.local.listen, "local.listen");
    std::vector<std::string> add = {"NATS_URL=" + local_boundary::client_url(c_), "WASMCLOUD_NATS_HOST=" + listen.host,
                                    "WASMCLOUD_NATS_PORT=" + std::to_string(listen.port)};
    if (!c_.upstream.jetstream_domain.empty()) add.push_back("WASMCLOUD_JS_DOMAIN=" + c_.upstream.jetstream_domain);
    for (auto& v : local_boundary::host_env(c_, prepared_->local)) add.push_back(std::move(v));
    if (const int err = host_.start(host_cmd_, child_env(std::move(add)))) {
      return feed(supervise::ChildExited{ChildId::host, process::exec_failure_code(err),
                                         "cannot start host `" + text::one_line(host_cmd_[0]) + "`: " + std::strerror(err)});
    }
    log_->info("started host `{}` (pid {})", text::one_line(host_cmd_[0]), host_.pid());
    feed(supervise::ChildStarted{ChildId::host});
  }

  void do_action(const supervise::SendSignal& s) {
    Child& k = child(s.child);
    if (s.leftovers) return k.signal_leftovers(s.sig);
    // The child's own to handle, not its children's: SIGUSR1/2 for the host, SIGHUP (reload) for nats-server.
    if (s.sig == SIGUSR1 || s.sig == SIGUSR2 || s.sig == SIGHUP) k.forward(s.sig);
    else k.signal(s.sig);
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

  // On the checks' own worker: never behind a refresh or the bootstrap.
  void do_action(const supervise::RunCheck& check) {
    checks_.post([this, seq = check.seq]() -> Worker::Completion {
      health::LeafInfo info;
      const health::Report r = health::check_all(c_, true, &info, *local_client_);
      const supervise::CheckResult res = health::check_result(seq, r, info);
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
      const bool first = !was_ready_;
      was_ready_ = true;
      log_->info("ready: {}{}", s.why, first && after ? " (" + std::to_string(after->count()) + " ms after start)" : "");
    } else {
      ::unlink(path.c_str());
      if (s.planned) log_->info("not ready: {} (moving to rotated credentials)", s.why);
      else log_->warn("not ready: {}", s.why);
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
  // A nats-server line's level (NatsLevel, as the throttle keeps it) as spdlog's.
  static spdlog::level::level_enum spdlog_level(int nats_level) {
    static constexpr spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                                                           spdlog::level::warn,  spdlog::level::err,   spdlog::level::critical};
    return levels[nats_level];
  }

  void on_nats_line(const std::string& raw) {
    if (handing_over_) handing_over_.reset();  // it has read its config (from the FIFO or the file)
    supervise::NatsLine l = supervise::classify_nats_line(raw);
    if (const auto v = nats_lines_.admit(l.message, loop_.now(), static_cast<int>(l.level)); v.print) {
      logging::nats_server()->log(spdlog_level(static_cast<int>(l.level)), v.held_back == 0 ? l.message
                                  : l.message + " [" + std::to_string(v.held_back) + " more like it since the last one shown]");
    } else if (!nats_lines_flush_) {
      // Held back: what nothing follows is printed with its count a window later.
      nats_lines_flush_ = loop_.after(nats_lines_.window(), [this] { flush_nats_lines(); });
    }
    feed(supervise::LogLine{std::move(l)});
  }

  void flush_nats_lines() {
    nats_lines_flush_.reset();
    for (const auto& h : nats_lines_.take_due(loop_.now())) {
      logging::nats_server()->log(spdlog_level(h.level), "{} [{} like it since the last one shown, this the last]", h.message,
                                  h.count);
    }
    if (nats_lines_.holding()) nats_lines_flush_ = loop_.after(nats_lines_.window(), [this] { flush_nats_lines(); });
  }

  void on_child_exit(pid_t pid, int status) {
    for (ChildId id : {ChildId::nats, ChildId::host}) {
      if (auto code = child(id).reaped(pid, status)) return feed(supervise::ChildExited{id, *code, ""});
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
      for (Child* k : {&host_, &nats_}) k->signal(SIGKILL);
      std::fprintf(stderr, "leaf-agent: internal error: %s\n", what.c_str());
      std::_Exit(70);
    }
  }

  int finish() {
    // A job still writing (a bootstrap stopped mid-way) finishes before anything is cleaned up.
    jobs_.cancel();
    checks_.cancel();
    diagnosis_.cancel();
    const bool idle = jobs_.wait_idle(300ms);
    try {
      jobs_.deliver();  // e.g. the bootstrap's result: prepared_ then names what it wrote
    } catch (const std::exception& e) {
      log_->error("internal error at exit: {}", e.what());
    }
    if (prepared_) ::unlink(prepared_->layout.ready.c_str());
    if (prewarm_) {  // never got a config: the bootstrap failed or was stopped
      if (!prewarm_exited_) {
        prewarm_->kill();
        process::reap_within(prewarm_->pid(), 200ms);  // not left a zombie for a PID 1 that does not reap
      }
      prewarm::Server::remove_fifo(prewarm_->conf_path());
      ::close(prewarm_->output_fd());
      prewarm_.reset();
    }
    handing_over_.reset();
    // One credentials file stays, the one nats.conf names (a move by reload still staged: the staged one).
    if (prepared_ && prepared_->staged) prepared_->forget_previous();
    if (prepared_) prepared_->creds.remove_other();
    // A start that failed leaves nothing behind; a run that stopped, its local chain (it dies with
    // the agent; init leaves it: another process runs the server).
    if (prepared_ && !init_only_) {
      if (code_ != 0 && !sup_.ever_ready()) prepared_->remove_written(c_);
      else if (prepared_->local.enabled()) local_boundary::remove_files(c_);
    }
    kill_leftovers();
    if (!error_.empty()) std::fprintf(stderr, "leaf-agent: %s\n", text::one_line(error_).c_str());
    if (init_only_ && code_ == 0 && prepared_) {
      log_->info("wrote {} and {}{}", prepared_->layout.nats_conf, c_.dev() ? "no credentials (dev mode)" : prepared_->layout.creds,
                 prepared_->server_version ? " (for nats-server " + prepared_->server_version->str() + ")" : std::string());
    }
    if (!idle || !checks_.wait_idle(300ms) || !diagnosis_.wait_idle(50ms)) {
      // A job is stuck in a blocking call (a slow endpoint, a probe): it cannot be joined, and
      // nothing it holds needs saving. Leave now.
      spdlog::default_logger()->flush();
      logging::agent()->flush();
      std::fflush(nullptr);
      std::_Exit(code_);
    }
    return code_;
  }

  // Nothing the host started outlives the agent's normal exit: its process group, and every
  // orphan re-parented to us.
  void kill_leftovers() {
    host_.signal_leftovers(SIGKILL);
    process::kill_orphans();
  }

  HttpResponse serve(const std::string& path) {
    return status::serve({c_, sup_, prepared_ ? &*prepared_ : nullptr, report_, nats_.pid(), host_.pid(), loop_.now()}, path);
  }

  const config::Config& c_;
  config::Environment& env_;
  std::vector<std::string> host_cmd_;
  bool init_only_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<health::LocalClient> local_client_;  // destroyed after the worker that uses it
  EventLoop loop_;  // blocks the signals before any thread starts
  Worker jobs_{loop_};       // the bootstrap, refreshes
  Worker checks_{loop_};     // readiness checks
  Worker diagnosis_{loop_};  // RunDiagnosis
  EventLoop::Clock::time_point start_deadline_{};
  supervise::Supervisor sup_;
  std::unique_ptr<StatusServer> status_;
  std::optional<bootstrap::Prepared> prepared_;
  Child nats_{loop_}, host_{loop_};
  std::unique_ptr<sources::FileWatch> watch_;
  std::map<TimerKind, EventLoop::TimerId> timers_;
  std::deque<supervise::Event> pending_;
  bool feeding_ = false;
  std::mutex progress_mu_;
  supervise::BootstrapProgress progress_;
  health::Report report_;
  std::mt19937 rng_{static_cast<std::mt19937::result_type>(fs::random_u64())};
  int code_ = 0;
  std::string error_;
  std::unique_ptr<prewarm::Server> prewarm_;       // exec'd at RunBootstrap, waiting for its config
  bool prewarm_exited_ = false;
  std::unique_ptr<prewarm::HandOver> handing_over_;  // adopted; its FIFO not yet drained
  supervise::LineThrottle nats_lines_;                 // a refused leaf's lines, at most one per shape a window
  std::optional<EventLoop::TimerId> nats_lines_flush_;        // the held-back lines' flush
  bool was_ready_ = false;                  // the first ready says how long the start took
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
