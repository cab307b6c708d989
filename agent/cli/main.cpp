// leaf-agent: fetch and validate upstream NATS credentials, write a localhost-only leaf-node
// config, launch and supervise nats-server, and gate the wasmCloud host on real readiness.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "agent/cli/commands.hpp"
#include "agent/core/error.hpp"
#include "agent/core/text.hpp"

static const char* kFooter = R"(Exit codes:
  0   success (for `run -- CMD`: CMD's own exit code is passed through)
  1   invalid credentials (`creds inspect`), not ready (`health`)
  2   usage error
  3   configuration error (bad TOML, unknown key, bad template, missing CA/cert/key file)
  4   credentials error (missing, malformed, expired, wrong account, not allowed LEAFNODE)
  5   upstream unreachable (DNS, TCP or TLS failed for every URL)
  6   nats-server failed to start or exited
  7   timeout (not ready within ready_timeout or wait --timeout)
  70  internal error)";

int main(int argc, char** argv) {
  CLI::App app{"leaf-agent: a localhost-only NATS leaf node for a wasmCloud host, with\n"
               "upstream TLS and JWT credentials fetched, validated and kept fresh."};
  app.set_version_flag("--version", std::string("leaf-agent ") + LEAF_AGENT_VERSION);
  app.footer(kFooter);
  app.require_subcommand(1);
  leaf::cmd::add_creds(app);
  leaf::cmd::add_dev_hub(app);
  leaf::cmd::add_agent(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : static_cast<int>(leaf::Exit::usage);
  } catch (const leaf::Error& e) {
    // One line, whatever a child process or a file put into the message (bytes, escapes, newlines).
    std::fprintf(stderr, "leaf-agent: %s\n", leaf::text::one_line(e.what()).c_str());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "leaf-agent: internal error: %s\n", leaf::text::one_line(e.what()).c_str());
    return static_cast<int>(leaf::Exit::internal);
  }
  return leaf::cmd::exit_code();
}
