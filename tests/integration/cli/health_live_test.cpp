// `leaf-agent health --live`: the liveness probe asks /livez, so a hub outage (not ready) never
// fails it, while a dead or hung agent does. `health` (readiness) follows the hub.
#include <doctest/doctest.h>
#include <signal.h>

#include "integration/supervise/agent_support.hpp"

using namespace harness;

TEST_CASE("agent health --live: live through a hub outage that makes it not ready, not live once the agent is gone") {
  Hub hub;
  AgentSetup a(hub);
  auto agent_proc = a.start();
  REQUIRE(wait_until([&] { return a.ready(); }, 30s));
  const std::string cfg = a.config_path();
  CHECK(agent({"health", "-c", cfg}).code == 0);
  const Result live = agent({"health", "--live", "-c", cfg});
  CHECK(live.code == 0);
  CHECK(live.out == "live\n");

  hub.stop();
  REQUIRE(wait_until([&] { return !a.ready(); }, 15s));
  CHECK(agent({"health", "-c", cfg}).code == 1);
  CHECK(agent({"health", "--live", "-c", cfg}).code == 0);

  agent_proc->signal(SIGSTOP);  // hung: /livez is not answered within the probe's 1 s
  const Result hung = agent({"health", "--live", "-c", cfg});
  agent_proc->signal(SIGCONT);
  CHECK(hung.code == 1);
  CHECK(hung.out.find("agent not answering on 127.0.0.1:" + std::to_string(a.health)) == 0);

  agent_proc->stop();
  CHECK(agent({"health", "--live", "-c", cfg}).code == 1);
}

TEST_CASE("agent health --live: refused with a config error when the probe listener is disabled") {
  TempDir d;
  const Result r = agent({"health", "--live", "--state-dir", d / "s", "--health-listen", "\"\""});
  CHECK(r.code == 3);
  CHECK(r.err.find("health --live asks /livez on agent.health_listen, which is disabled") != std::string::npos);
}
