// Waiting on one descriptor until a deadline set before the first call (every blocking step of a
// check shares it): the local clients of the readiness checks, plain and TLS.
#pragma once

#include <poll.h>

#include <cerrno>
#include <chrono>

namespace leaf::io {

using Clock = std::chrono::steady_clock;

// Milliseconds until `deadline`, 0 once it passed.
inline int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
inline bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

}  // namespace leaf::io
