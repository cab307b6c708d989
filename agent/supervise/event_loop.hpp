// One epoll loop that owns signals (signalfd), child exits (SIGCHLD, reaping every child as PID 1
// must), timers and file descriptors. Everything the agent does over time hangs off it, so there
// is no thread per feature.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace leaf {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = std::uint64_t;

  // Blocks the signals it handles in the calling thread: construct it before any thread starts
  // (nats.c and libcurl start threads), so they inherit the mask and signals come here.
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void watch(int fd, std::function<void()> on_readable);
  void unwatch(int fd);

  TimerId after(std::chrono::milliseconds delay, std::function<void()> fn);
  void cancel(TimerId id);

  // SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2.
  void on_signal(std::function<void(int)> fn) { on_signal_ = std::move(fn); }
  // Every reaped child, including orphans re-parented to us when we are PID 1.
  void on_child_exit(std::function<void(pid_t, int status)> fn) { on_child_ = std::move(fn); }

  // An exception escaping a handler goes here (the loop keeps running); without one it propagates.
  void on_error(std::function<void(const std::string&)> fn) { on_error_ = std::move(fn); }
  // The clock timers are measured against (tests inject a fake one).
  void set_clock(std::function<Clock::time_point()> now) { now_ = std::move(now); }
  Clock::time_point now() const { return now_(); }

  void run();   // until stop()
  void stop() { running_ = false; }

  // The signal set the loop handles; children get an empty mask before exec.
  static void restore_signals_for_child();

 private:
  void arm_timerfd();
  void fire_timers();
  void read_signals();

  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  int timer_fd_ = -1;
  bool running_ = false;
  TimerId next_id_ = 1;
  std::multimap<Clock::time_point, TimerId> deadlines_;
  std::map<TimerId, std::function<void()>> timers_;
  std::map<int, std::function<void()>> fds_;
  std::function<void(int)> on_signal_;
  std::function<void(pid_t, int)> on_child_;
  std::function<void(const std::string&)> on_error_;
  std::function<Clock::time_point()> now_ = [] { return Clock::now(); };
};

}  // namespace leaf
