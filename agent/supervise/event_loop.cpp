#include "agent/supervise/event_loop.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "agent/core/error.hpp"

namespace leaf {

namespace {
sigset_t handled_signals() {
  sigset_t s;
  sigemptyset(&s);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&s, sig);
  return s;
}

void check(bool ok, const char* what) {
  if (!ok) throw internal_error(std::string(what) + ": " + std::strerror(errno));
}
}  // namespace

EventLoop::EventLoop() {
  sigset_t s = handled_signals();
  check(pthread_sigmask(SIG_BLOCK, &s, nullptr) == 0, "sigprocmask");
  ::signal(SIGPIPE, SIG_IGN);  // a closed pipe or socket is an error return, not a death
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  check(epoll_fd_ >= 0, "epoll_create1");
  signal_fd_ = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
  check(signal_fd_ >= 0, "signalfd");
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  check(timer_fd_ >= 0, "timerfd_create");
  watch(signal_fd_, [this] { read_signals(); });
  watch(timer_fd_, [this] {
    std::uint64_t n;
    while (::read(timer_fd_, &n, sizeof n) > 0) {
    }
    fire_timers();
  });
}

EventLoop::~EventLoop() {
  for (int fd : {epoll_fd_, signal_fd_, timer_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

void EventLoop::restore_signals_for_child() {
  sigset_t s = handled_signals();
  sigprocmask(SIG_UNBLOCK, &s, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
}

void EventLoop::watch(int fd, std::function<void()> on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  const bool known = fds_.count(fd) > 0;
  fds_[fd] = std::move(on_readable);
  check(epoll_ctl(epoll_fd_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
}

void EventLoop::unwatch(int fd) {
  if (fds_.erase(fd)) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  const TimerId id = next_id_++;
  timers_[id] = std::move(fn);
  deadlines_.emplace(now() + delay, id);
  arm_timerfd();
  return id;
}

void EventLoop::cancel(TimerId id) { timers_.erase(id); }  // its deadline entry is skipped when due

void EventLoop::arm_timerfd() {
  itimerspec spec{};
  if (!deadlines_.empty()) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadlines_.begin()->first - now()).count();
    if (ns < 1) ns = 1;  // zero would disarm
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
  }
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
}

void EventLoop::fire_timers() {
  const auto t = now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= t) {
    const TimerId id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;
    auto fn = std::move(it->second);
    timers_.erase(it);
    try {
      fn();
    } catch (const std::exception& e) {
      if (!on_error_) throw;
      on_error_(e.what());
    }
  }
  arm_timerfd();
}

void EventLoop::read_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
    if (info.ssi_signo == SIGCHLD) {
      // Signals coalesce: reap every child that has exited, known or orphaned.
      int status = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        if (on_child_) on_child_(pid, status);
      }
    } else if (on_signal_) {
      on_signal_(static_cast<int>(info.ssi_signo));
    }
  }
}

void EventLoop::run() {
  running_ = true;
  epoll_event events[16];
  while (running_) {
    const int n = epoll_wait(epoll_fd_, events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw internal_error(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n && running_; ++i) {
      auto it = fds_.find(events[i].data.fd);
      if (it == fds_.end()) continue;
      auto fn = it->second;  // the handler may unwatch itself
      try {
        fn();
      } catch (const std::exception& e) {
        if (!on_error_) throw;
        on_error_(e.what());
      }
    }
  }
}

}  // namespace leaf
