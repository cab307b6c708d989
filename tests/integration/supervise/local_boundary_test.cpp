// local.auth = "jwt": the leaf's client port is a security boundary of its own. A real dev hub,
// the agent's real leaf nats-server in operator mode, real nats.c clients on both sides.
#include <doctest/doctest.h>

#include "agent/core/creds.hpp"
#include "agent_support.hpp"
#include "leaf_traffic.hpp"

using namespace harness;

namespace {


// A host that turns the credentials it was given in its environment into a creds file (as the
// wasmCloud host would use them), records the other variants, and waits to be stopped.
std::vector<std::string> recording_host(const std::string& dir) {
  const std::string script =
      "umask 077; printf -- '-----BEGIN NATS USER JWT-----\\n%s\\n------END NATS USER JWT------\\n\\n"
      "-----BEGIN USER NKEY SEED-----\\n%s\\n------END USER NKEY SEED------\\n' \"$WASMCLOUD_NATS_JWT\" "
      "\"$WASMCLOUD_NATS_SEED\" > '" + dir + "/host.creds'; "
      "[ \"$WASMCLOUD_CTL_JWT\" = \"$WASMCLOUD_NATS_JWT\" ] && [ \"$WASMCLOUD_RPC_SEED\" = \"$WASMCLOUD_NATS_SEED\" ] "
      "&& echo variants=same > '" + dir + "/host.vars'; touch '" + dir + "/host.armed'; "
      "trap 'exit 0' TERM; while :; do sleep 0.05; done";
  return {"sh", "-c", script};
}

}  // namespace

TEST_CASE("local.auth = jwt: a separate local boundary in front of the upstream account") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"jwt\"";
  auto agent = a.start(recording_host(a.dir.path()));
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  REQUIRE(wait_until([&] { return file_mode(a.dir / "host.armed") != -1; }, 10s));

  // Anonymous local clients are refused.
  auto anon = nats_connect(a.local_url());
  CHECK_FALSE(anon->ok());
  CHECK(anon->error.find("Authorization") != std::string::npos);

  // The host's credentials (from its environment) connect; so does local.creds (0600).
  CHECK(read_file(a.dir / "host.vars") == "variants=same\n");
  auto host = nats_connect(a.local_url(), a.dir / "host.creds");
  REQUIRE_MESSAGE(host->ok(), (std::string(natsStatus_GetText(host->status)) + " / " + host->error + "\n" + agent->err()));
  CHECK(file_mode(a.state("local.creds")) == 0600);
  CHECK(file_mode(a.state("health.creds")) == 0600);
  CHECK(nats_connect(a.local_url(), a.state("local.creds"))->ok());

  // A request from a hub-side client reaches a responder on the local side, and back.
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, host->conn, "svc.local", on_msg_echo, nullptr) == NATS_OK);
  natsConnection_Flush(host->conn);
  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE(hub_client->ok());
  CHECK(request(hub_client->conn, "svc.local", "hello") == "hello");
  natsSubscription_Destroy(sub);

  // And the other way: a local request to a hub-side responder.
  REQUIRE(natsConnection_Subscribe(&sub, hub_client->conn, "svc.hub", on_msg_echo, nullptr) == NATS_OK);
  natsConnection_Flush(hub_client->conn);
  CHECK(request(host->conn, "svc.hub", "ping") == "ping");
  natsSubscription_Destroy(sub);

  // JetStream through the hub's domain still works from the local account.
  const std::string info = request(host->conn, "$JS.hub.API.INFO", "");
  CHECK(info.find("account_info_response") != std::string::npos);
  CHECK(info.find("\"error\"") == std::string::npos);

  // The upstream account's credentials are refused on the local port, the local ones by the hub.
  auto upstream_here = nats_connect(a.local_url(), hub.file("hub/client.creds"));
  CHECK_FALSE(upstream_here->ok());
  auto local_there = nats_connect(hub.client_url(), a.state("local.creds"), hub.file("hub/ca.pem"));
  CHECK_FALSE(local_there->ok());

  // The leaf's remote is bound to the local account; the hub still sees the lattice account.
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
  const auto st = a.status();
  CHECK(st["local"]["auth"]["mode"] == "jwt");
  const std::string local_account = st["local"]["auth"]["account"];
  CHECK(local_account.size() == 56);
  CHECK(local_account != hub.lattice_account());
  CHECK(st["local"]["auth"]["creds_file"] == a.state("local.creds"));

  // `creds inspect` knows a local credential; `health` answers without any credentials.
  const Result inspect = harness::agent({"creds", "inspect", "--json", a.state("local.creds")});
  CHECK(inspect.code == 0);
  const auto ij = nlohmann::json::parse(inspect.out);
  CHECK(ij["boundary"] == "local");
  CHECK(ij["account"] == local_account);
  CHECK(harness::agent({"health", "-c", a.config_path()}).code == 0);
  CHECK(harness::agent({"wait", "-c", a.config_path(), "--timeout", "5s"}).code == 0);

  // No seed of either boundary in the agent's output.
  const std::string local_seed = seed_of_file(a.state("local.creds"));
  const std::string health_seed = seed_of_file(a.state("health.creds"));
  for (const std::string& s : {local_seed, health_seed, seed_of_file(hub.file("hub/leaf.creds"))}) {
    CHECK(agent->err().find(s) == std::string::npos);
    CHECK(agent->out().find(s) == std::string::npos);
    CHECK(read_file(a.state("nats.conf")).find(s) == std::string::npos);
  }

  // Stopping ends the boundary: the credential files go, and nothing trusts the chain any more.
  CHECK(agent->stop(20s) == 0);
  CHECK(file_mode(a.state("local.creds")) == -1);
  CHECK(file_mode(a.state("health.creds")) == -1);
}

TEST_CASE("local.auth = jwt: a restart mints a new chain - the old local credentials are refused") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"jwt\"";
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  const std::string old_creds = a.dir / "old.creds";
  write_file(old_creds, read_file(a.state("local.creds")), 0600);
  CHECK(nats_connect(a.local_url(), old_creds)->ok());
  CHECK(agent->stop(20s) == 0);

  agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  CHECK_FALSE(nats_connect(a.local_url(), old_creds)->ok());
  CHECK(nats_connect(a.local_url(), a.state("local.creds"))->ok());
}

TEST_CASE("local.auth = jwt: the host's local permissions are enforced by the leaf") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"jwt\"";
  a.toml["local"]["host_pub_deny"] = "[\"secret.>\"]";
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  auto host = nats_connect(a.local_url(), a.state("local.creds"));
  REQUIRE_MESSAGE(host->ok(), (host->error + "\n" + agent->err()));
  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE(hub_client->ok());
  // Once the hub's interest reached the leaf (an allowed subject arrives):
  const PublishSeen seen = publish_through_leaf(host->conn, hub_client->conn, "open.x", "secret.x", "open.y");
  REQUIRE(seen.open);
  CHECK(seen.after);          // the stream went on past the denied message...
  CHECK_FALSE(seen.denied);   // ...which the leaf dropped
  CHECK(a.status()["local"]["auth"]["host_permissions"]["pub"]["deny"] == nlohmann::json::array({"secret.>"}));
}

TEST_CASE("run --dev with local.auth = jwt: the same boundary on a laptop, JetStream included") {
  TempDir d;
  const int listen = free_port(), monitor = free_port(), health = free_port();
  Process agent({agent_bin(), "run", "--dev", "--state-dir", d / "state", "--listen", "127.0.0.1:" + std::to_string(listen),
                 "--monitor", "127.0.0.1:" + std::to_string(monitor), "--health-listen", "127.0.0.1:" + std::to_string(health),
                 "--local-auth", "jwt"});
  const std::string readyz = "http://127.0.0.1:" + std::to_string(health) + "/readyz";
  REQUIRE_MESSAGE(wait_until([&] { return http_get(readyz).status == 200; }, 30s), agent.err());
  const std::string url = "nats://127.0.0.1:" + std::to_string(listen);
  CHECK_FALSE(nats_connect(url)->ok());
  auto c = nats_connect(url, d / "state/local.creds");
  REQUIRE_MESSAGE(c->ok(), c->error);
  const std::string info = request(c->conn, "$JS.API.INFO", "");
  CHECK(info.find("account_info_response") != std::string::npos);
  CHECK(info.find("\"error\"") == std::string::npos);
  CHECK(agent.stop(20s) == 0);
}

TEST_CASE("local.auth = jwt: init writes a config nats-server accepts - render shows no seed") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"jwt\"";
  const Result init = harness::agent({"init", "-c", a.write_config()});
  REQUIRE_MESSAGE(init.code == 0, init.err);
  CHECK(run({leaf_nats(), "-t", "-c", a.state("nats.conf")}).code == 0);
  CHECK(file_mode(a.state("local.creds")) == 0600);
  const Result render = harness::agent({"render", "-c", a.config_path()});
  CHECK(render.code == 0);
  CHECK(render.out.find("resolver: MEMORY") != std::string::npos);
  CHECK(render.out.find(seed_of_file(a.state("local.creds"))) == std::string::npos);

  // A custom template without the local chain is refused rather than run open.
  const std::string tmpl = a.dir / "open.tmpl";
  write_file(tmpl, "listen: \"{{listen}}\"\n", 0644);
  a.toml["agent"]["template"] = AgentSetup::quote(tmpl);
  const Result refused = harness::agent({"render", "-c", a.write_config()});
  CHECK(refused.code == 3);
  CHECK(refused.err.find("leaves out the local trust chain") != std::string::npos);
}
