// The upstream as a whole (every URL of upstream.urls), probed directly: used by `init` before it
// writes anything (no nats-server runs after it to find out) and by `run` to say why a leaf does
// not come up (the supervisor's RunDiagnosis).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "agent/config/config.hpp"

namespace leaf::preflight {

// One round: every upstream URL probed at once (DNS, TCP, TLS verified against the CA and name,
// the server's INFO); returns at the first success without waiting for the others (a hub that
// accepts TCP and never speaks holds only its own probe). nullopt when one URL works, else
// "upstream unreachable: <the first failure>".
std::optional<std::string> probe_upstream(const config::Config& c, std::chrono::milliseconds timeout,
                                          const std::function<bool()>& cancelled = {});

// Rounds a second apart until one URL works (nullopt), the deadline passes (the last round's
// failure) or `cancelled()` turns true (nullopt: the caller checks). Each failed round goes to
// `progress`; the first is logged as a warning.
std::optional<std::string> await_upstream(const config::Config& c, std::chrono::steady_clock::time_point deadline,
                                          const std::function<bool()>& cancelled,
                                          const std::function<void(const std::string&)>& progress);

}  // namespace leaf::preflight
