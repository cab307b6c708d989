#include "agent/preflight/upstream_probe.hpp"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/io/logging.hpp"
#include "agent/preflight/preflight.hpp"

namespace leaf::preflight {

using namespace std::chrono_literals;

std::optional<std::string> probe_upstream(const config::Config& c, std::chrono::milliseconds timeout,
                                          const std::function<bool()>& cancelled) {
  const Tls tls{c.upstream.ca_file, c.upstream.cert_file, c.upstream.key_file, "", c.upstream.handshake_first};
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0, ok = 0;
    std::vector<std::string> failures;
    std::string hub_version;  // from the first INFO that came with a working URL
  };
  auto shared = std::make_shared<Shared>();
  for (const auto& url : c.upstream.urls) {
    // Detached: a probe ends by its own timeout; nobody waits for a slow one.
    std::thread([shared, url, tls, timeout] {
      const Probe r = probe(url, tls, timeout);
      std::lock_guard<std::mutex> g(shared->mu);
      ++shared->done;
      if (r.ok) {
        ++shared->ok;
        if (shared->hub_version.empty()) shared->hub_version = r.server_version;
      } else {
        shared->failures.push_back(r.error);
      }
      shared->cv.notify_all();
    }).detach();
  }
  // Bounded by the probes' timeout plus a margin, whatever a probe does (its DNS included).
  const auto give_up = std::chrono::steady_clock::now() + timeout + 1s;
  std::unique_lock<std::mutex> g(shared->mu);
  const size_t n = c.upstream.urls.size();
  while (shared->ok == 0 && shared->done < n) {
    shared->cv.wait_for(g, 50ms);
    if (cancelled && cancelled()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= give_up) {
      return "upstream unreachable: no answer from any upstream URL within " + std::to_string(timeout.count()) + " ms";
    }
  }
  auto log = logging::agent();
  if (shared->ok > 0) {
    for (const auto& f : shared->failures) log->warn("preflight: {} (another upstream URL works)", f);
    log->info("preflight: upstream reachable with TLS verified ({} URL(s) configured{})", n,
              shared->hub_version.empty() ? std::string() : "; the hub runs nats-server " + shared->hub_version);
    return std::nullopt;
  }
  return "upstream unreachable: " + shared->failures.front();
}

std::optional<std::string> await_upstream(const config::Config& c, std::chrono::steady_clock::time_point deadline,
                                          const std::function<bool()>& cancelled,
                                          const std::function<void(const std::string&)>& progress) {
  for (int round = 0;; ++round) {
    // Ends a little before the deadline, so that the round's failure is what a timeout reports.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const auto failure = probe_upstream(c, std::clamp(left - 250ms, 100ms, 5000ms), cancelled);
    if (cancelled()) return std::nullopt;
    if (!failure) return std::nullopt;
    progress(*failure);
    if (round == 0) logging::agent()->warn("preflight: {}; retrying until agent.ready_timeout ({})", *failure, c.agent.ready_timeout);
    if (std::chrono::steady_clock::now() + 1s >= deadline) return failure;
    for (int i = 0; i < 20; ++i) {
      if (cancelled()) return std::nullopt;
      std::this_thread::sleep_for(50ms);
    }
  }
}

}  // namespace leaf::preflight
