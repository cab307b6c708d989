// run, init, render, config, health, wait: the agent itself (issue: bootstrap path).
#include "agent/commands.hpp"

namespace leaf::cmd {
void add_agent(CLI::App&) {}
}  // namespace leaf::cmd
