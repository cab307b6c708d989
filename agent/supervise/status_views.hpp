// What /livez, /readyz, /status and /metrics answer: views of the supervisor's state and the last
// readiness check, built on the loop thread when asked. Never throws, never emits invalid UTF-8.
#pragma once

#include <sys/types.h>

#include <string>

#include "agent/config/config.hpp"
#include "agent/supervise/bootstrap.hpp"
#include "agent/supervise/health.hpp"
#include "agent/supervise/status_server.hpp"
#include "agent/supervise/supervisor.hpp"

namespace leaf::status {

struct View {
  const config::Config& config;
  const supervise::Supervisor& sup;
  const bootstrap::Prepared* prepared;  // null until the bootstrap is done
  const health::Report& report;         // the last check the supervisor judged on
  pid_t nats_pid = -1, host_pid = -1;
  supervise::TimePoint now;             // the loop's clock, for the refresh times
};

HttpResponse serve(const View& v, const std::string& path);

}  // namespace leaf::status
