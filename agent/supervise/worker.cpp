#include "agent/supervise/worker.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "agent/core/error.hpp"

namespace leaf {

Worker::Worker(EventLoop& loop) : loop_(loop) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (event_fd_ < 0) throw internal_error("eventfd failed");
  loop_.watch(event_fd_, [this] { deliver(); });
}

Worker::~Worker() {
  {
    std::lock_guard<std::mutex> g(mu_);
    quit_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  cancelled_ = true;
  if (thread_.joinable()) thread_.join();
  loop_.unwatch(event_fd_);
  ::close(event_fd_);
}

void Worker::post(Job job) {
  {
    std::lock_guard<std::mutex> g(mu_);
    jobs_.push_back(std::move(job));
    busy_ = true;
    // The thread starts with the first job: a worker that never gets one (the diagnosis, in a
    // start that goes well) costs no thread, and `run` execs nats-server before any starts.
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  cv_.notify_all();
}

bool Worker::wait_idle(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> g(mu_);
  return cv_.wait_for(g, grace, [this] { return jobs_.empty() && !busy_; });
}

void Worker::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> g(mu_);
      cv_.wait(g, [this] { return quit_ || !jobs_.empty(); });
      if (quit_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Completion c;
    try {
      c = job();
    } catch (...) {
      // A job reports its own errors through its completion; anything else reaches the loop.
      auto e = std::current_exception();
      c = [e] { std::rethrow_exception(e); };
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      done_.push_back(std::move(c));
      if (jobs_.empty()) busy_ = false;
    }
    cv_.notify_all();
    const std::uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof one);
  }
}

void Worker::deliver() {
  std::uint64_t n;
  while (::read(event_fd_, &n, sizeof n) > 0) {
  }
  for (;;) {
    Completion c;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (done_.empty()) return;
      c = std::move(done_.front());
      done_.pop_front();
    }
    if (c) c();
  }
}

}  // namespace leaf
