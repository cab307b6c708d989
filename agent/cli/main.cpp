// leaf-agent: fetch and validate upstream NATS credentials, write a localhost-only leaf-node
// config, launch and supervise nats-server, and gate the wasmCloud host on real readiness.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "agent/cli/commands.hpp"
#include "agent/core/error.hpp"
#include "agent/core/text.hpp"
#include "agent/io/openssl_first.hpp"

static std::string exit_codes_footer() {
  std::string f = "Exit codes:";
  for (const auto& row : leaf::kExitTable) {
    std::string code = row.code;
    f += "\n  " + code + std::string(code.size() < 6 ? 6 - code.size() : 1, ' ') + row.meaning;
  }
  return f;
}

int main(int argc, char** argv) {
#if !LEAF_LAZY_OPENSSL
  leaf::openssl::first_call_without_atexit();  // before any other OpenSSL call (openssl_first.hpp)
#endif
  const std::string_view first = argc > 1 ? argv[1] : "";
  // `run` and `init` handle their signals on the event loop; until it exists, a signal must not
  // kill the agent with its default action (the first milliseconds after exec).
  if (first == "run" || first == "init") {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) sigaddset(&s, sig);
    sigprocmask(SIG_BLOCK, &s, nullptr);
  }
  CLI::App app{"leaf-agent: a localhost-only NATS leaf node for a wasmCloud host, with\n"
               "upstream TLS and JWT credentials fetched, validated and kept fresh."};
  app.set_version_flag("--version", [] { return leaf::cmd::version_text(); });
  app.footer(exit_codes_footer());
  app.require_subcommand(1);
  // When argv[1] is one of the agent's commands, only it is built: `health` runs as an exec probe
  // every few seconds, and building all the commands' options was a tenth of its time (issue #10).
  // Anything else (--help, creds, a typo) gets every command, for full help and suggestions.
  if (leaf::cmd::is_agent_command(first)) {
    leaf::cmd::add_agent(app, first);
  } else {
    leaf::cmd::add_creds(app);
    leaf::cmd::add_dev_hub(app);
    leaf::cmd::add_agent(app);
  }
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
