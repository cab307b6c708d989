// Blocking work off the loop thread: file reads, the credentials fetch, preflight, `nats-server
// -t`, readiness checks. One thread per Worker runs its jobs in order (the runner has one per kind
// of job, so that none waits behind another); each job returns a completion that runs
// back on the loop thread (woken through an eventfd), so the loop never blocks and a signal is
// always handled at once. Jobs bound their own time and poll `cancelled()`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "agent/supervise/event_loop.hpp"

namespace leaf {

class Worker {
 public:
  using Completion = std::function<void()>;
  using Job = std::function<Completion()>;

  // The thread starts at the first post(), from the loop thread: it inherits its blocked signal
  // mask.
  explicit Worker(EventLoop& loop);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(Job job);
  bool busy() const { return busy_.load(); }
  // Asks the running job to give up (jobs poll it); later jobs still run.
  void cancel() { cancelled_ = true; }
  const std::atomic<bool>& cancelled() const { return cancelled_; }
  // Waits up to `grace` for the queue to drain; true when idle. After false, the process must
  // leave with std::_Exit (the thread cannot be joined).
  bool wait_idle(std::chrono::milliseconds grace);
  // Runs the completions of finished jobs on the caller's thread: the loop does when woken; the
  // owner once more after the loop stopped, so that what a late job did (files it wrote) is known
  // before the clean-up.
  void deliver();

 private:
  void run();

  EventLoop& loop_;
  int event_fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::deque<Completion> done_;
  std::atomic<bool> busy_{false}, cancelled_{false};
  bool quit_ = false;
  std::thread thread_;
};

}  // namespace leaf
