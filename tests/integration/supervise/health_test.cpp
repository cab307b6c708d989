// The readiness checks against a real leaf nats-server and a real hub: the acceptance signal
// (hub interest on the leaf connection) with good and with refused credentials, the plain
// socket HTTP GET, and the long-lived local client across a nats-server restart.
#include <doctest/doctest.h>
#include <signal.h>

#include "agent/supervise/health.hpp"
#include "agent_support.hpp"

using namespace harness;
using namespace leaf;

namespace {
// The config the checks read: the setup's local listener and monitor, leaf mode.
config::Config checks_config(const AgentSetup& a) {
  config::Config c;
  c.agent.mode = "leaf";
  c.local.listen = "127.0.0.1:" + std::to_string(a.listen);
  c.local.monitor = "127.0.0.1:" + std::to_string(a.monitor);
  return c;
}

// `leaf-agent init` renders and writes the leaf config; we run nats-server on it ourselves.
std::unique_ptr<Process> start_leaf(AgentSetup& a) {
  const Result init = agent({"init", "-c", a.write_config()});
  REQUIRE_MESSAGE(init.code == 0, init.err);
  auto p = std::make_unique<Process>(std::vector<std::string>{"nats-server", "-c", a.state("nats.conf")});
  const std::string healthz = "http://127.0.0.1:" + std::to_string(a.monitor) + "/healthz";
  REQUIRE_MESSAGE(wait_until([&] { return http_get(healthz).status == 200; }, 20s), p->err());
  return p;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("health: the leaf counts as accepted once the hub has sent its interest") {
  Hub hub;
  AgentSetup a(hub);
  auto leaf = start_leaf(a);
  const config::Config c = checks_config(a);
  health::LeafInfo info;
  REQUIRE_MESSAGE(wait_until([&] { return health::check_leaf(c, &info).ok && info.accepted; }, 20s), leaf->err());
  CHECK(info.connected);
  CHECK(info.subscriptions > 0);
  CHECK(info.upstream == "127.0.0.1:" + std::to_string(hub.leaf_port));
  // The hub agrees: it lists the leaf in the lattice account.
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
  CHECK(health::check_healthz(c).ok);
  CHECK(health::check_all(c, true, &info).ready());
}

TEST_CASE("health: refused credentials are never accepted, across several attempts") {
  Hub hub;
  TempDir other;
  AgentSetup a(hub);
  a.use_untrusted_creds(other);
  auto leaf = start_leaf(a);
  const config::Config c = checks_config(a);
  // Poll as fast as the checks go until the hub has refused the leaf twice (two connects, about
  // 1 s apart): every refusal window is covered, and acceptance must never show.
  int polls = 0, accepted = 0, listed = 0;
  const auto deadline = Clock::now() + 20s;
  while (count_of(leaf->err(), "Authorization Violation") < 2 && Clock::now() < deadline) {
    health::LeafInfo info;
    health::check_leaf(c, &info);
    ++polls;
    accepted += info.accepted;
    listed += info.connected;
  }
  REQUIRE_MESSAGE(count_of(leaf->err(), "Authorization Violation") >= 2, leaf->err());
  CHECK(polls > 50);
  CHECK(accepted == 0);
  MESSAGE("refused credentials: " << polls << " polls, listed " << listed << " times, accepted " << accepted);
  CHECK(hub.leaf_accounts().empty());
  health::LeafInfo info;
  CHECK_FALSE(health::check_all(c, true, &info).ready());
}

TEST_CASE("health: http_get_local answers status and body, and says why when nothing answers") {
  Hub hub;
  const auto ok = health::http_get_local("127.0.0.1:" + std::to_string(hub.http_port), "/healthz", 1000);
  CHECK(ok.status == 200);
  CHECK(ok.body.find("ok") != std::string::npos);
  CHECK(health::http_get_local("127.0.0.1:" + std::to_string(hub.http_port), "/nope", 1000).status == 404);
  const auto none = health::http_get_local("127.0.0.1:" + std::to_string(free_port()), "/healthz", 500);
  CHECK(none.status == 0);
  CHECK(none.error.find("Couldn't connect to server") != std::string::npos);
  CHECK(health::http_get_local("not an address", "/", 500).status == 0);
}

TEST_CASE("health: one long-lived local client follows a nats-server restart") {
  Hub hub;
  AgentSetup a(hub);
  auto leaf = start_leaf(a);
  const config::Config c = checks_config(a);
  health::LocalClient client(c.local.listen);
  REQUIRE(client.check().ok);
  CHECK(client.connected());
  CHECK(client.check().ok);  // the same connection again
  leaf->signal(SIGKILL);
  leaf->wait(10s);
  const health::Check down = client.check();
  CHECK_FALSE(down.ok);
  CHECK(down.detail.find("client on " + c.local.listen) == 0);
  leaf = std::make_unique<Process>(std::vector<std::string>{"nats-server", "-c", a.state("nats.conf")});
  CHECK(wait_until([&] { return client.check().ok; }, 20s));
  health::LeafInfo info;
  CHECK(wait_until([&] { return health::check_all(c, true, &info, client).ready(); }, 20s));
}
