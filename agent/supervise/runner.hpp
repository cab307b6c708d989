// `run` and `init`: the event loop, the worker thread and the children, driven by the pure
// Supervisor. This file only carries out decisions: what to do when is supervisor.cpp's.
#pragma once

#include <string>
#include <vector>

#include "agent/config/config.hpp"

namespace leaf::runner {

// Bootstrap (see bootstrap.hpp), launch, supervise, gate. Returns the exit code: the host's when
// one was given, 0 after a clean SIGTERM, or the Exit code of the failure (printed as the last
// line on stderr). Secret variables in `env` are wiped once read.
int run(const config::Config& c, config::Environment& env, const std::vector<std::string>& host_cmd);

// The bootstrap alone (an init container): same order, same checks, prompt on SIGTERM.
int init(const config::Config& c, config::Environment& env);

}  // namespace leaf::runner
