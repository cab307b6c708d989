// Each command group registers its subcommands on the CLI11 app. A command's callback throws
// leaf::Error to fail; Exit carries the exit code (see error.hpp).
#pragma once

#include <CLI/CLI.hpp>

namespace leaf::cmd {

// `only`: build just that subcommand of the group ("" builds them all).
void add_creds(CLI::App& app);                              // creds inspect, creds mint-user
void add_dev_hub(CLI::App& app);                            // dev-hub
void add_agent(CLI::App& app, std::string_view only = {});  // run, init, render, config, health, wait
bool is_agent_command(std::string_view name);               // one of add_agent's

// What --version prints: the agent's version, and the release of the nats-server it would run
// (agent.nats_server as LEAF_AGENT_AGENT_NATS_SERVER sets it, else nats-server on PATH).
std::string version_text();

// Set by a command that exits with a code other than 0 without an error message
// (`creds inspect` on invalid input, `health` when not ready, `run -- CMD` with CMD's code).
void set_exit_code(int code);
int exit_code();

}  // namespace leaf::cmd
