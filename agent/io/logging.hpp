// spdlog set-up: text or JSON lines on stderr. nats-server's own log lines are re-logged through
// the "nats-server" logger, so JSON output stays JSON.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace leaf::logging {

// format: "text" | "json"; level: trace..error. Safe to call again (reconfigures).
void setup(const std::string& format, const std::string& level);

std::shared_ptr<spdlog::logger> agent();
std::shared_ptr<spdlog::logger> nats_server();


}  // namespace leaf::logging
