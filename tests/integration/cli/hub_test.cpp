// The dev hub as a real nats-server in operator mode with TLS: our credentials against it.
#include <doctest/doctest.h>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/io/fs.hpp"
#include "agent/sources/signer.hpp"
#include "support/harness.hpp"

using namespace harness;

namespace {
// A bare leaf nats-server (not the agent): checks the credentials, not our rendering.
std::unique_ptr<Process> start_leaf(const TempDir& d, const Hub& hub, const std::string& creds, int http_port) {
  const std::string conf = d / ("leaf-" + std::to_string(http_port) + ".conf");
  write_file(conf, "listen: \"127.0.0.1:" + std::to_string(free_port()) + "\"\n" +
                       "http: \"127.0.0.1:" + std::to_string(http_port) + "\"\n" +
                       "leafnodes { reconnect: 1, remotes = [ { urls: [\"" + hub.leaf_url() +
                       "\"], credentials: \"" + creds + "\", tls { ca_file: \"" + hub.file("hub/ca.pem") +
                       "\" } } ] }\n");
  return std::make_unique<Process>(std::vector<std::string>{hub_nats(), "-c", conf});
}

bool leaf_connected(int http_port) {
  const auto r = http_get("http://127.0.0.1:" + std::to_string(http_port) + "/leafz");
  return r.status == 200 && r.body.find("\"leafnodes\": 1") != std::string::npos;
}

// A user creds minted directly with the library, for cases the CLI refuses to make (expired).
std::string mint(const Hub& hub, std::int64_t issued, std::optional<std::int64_t> ttl, bool leaf_only) {
  const auto account = leaf::signer::load_account_key(hub.file("hub/lattice.nk"));
  const auto m = leaf::signer::mint_user(account, {"t", "", ttl, leaf_only}, issued);
  return std::string(m.creds.begin(), m.creds.end());
}
}  // namespace

TEST_CASE("hub: a leaf with dev-hub's leaf.creds connects over TLS into the lattice account") {
  Hub hub;
  TempDir d;
  const int http = free_port();
  auto leaf = start_leaf(d, hub, hub.file("hub/leaf.creds"), http);
  REQUIRE(wait_until([&] { return leaf_connected(http); }, 20s));
  REQUIRE(wait_until([&] { return hub.leaf_accounts().size() == 1; }, 10s));
  CHECK(hub.leaf_accounts()[0] == hub.lattice_account());
}

TEST_CASE("hub: a --leaf-only user connects as a leaf but is refused as a plain client") {
  Hub hub;
  TempDir d;
  REQUIRE(agent({"creds", "mint-user", "--account-seed", hub.file("hub/lattice.nk"), "--leaf-only", "--out",
                 d / "edge.creds"}).code == 0);

  auto plain = nats_connect(hub.client_url(), d / "edge.creds", hub.file("hub/ca.pem"));
  CHECK_FALSE(plain->ok());
  CHECK(plain->status == NATS_CONNECTION_AUTH_FAILED);  // the server's "Authorization Violation"

  // The hub's client.creds (no connection-type limit) does connect: the refusal is the limit.
  auto client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  CHECK(client->ok());

  const int http = free_port();
  auto leaf = start_leaf(d, hub, d / "edge.creds", http);
  CHECK(wait_until([&] { return leaf_connected(http); }, 20s));
}

TEST_CASE("hub: an expired user is refused, as client and as leaf") {
  Hub hub;
  TempDir d;
  const std::int64_t now = leaf::unix_now();
  write_file(d / "expired.creds", mint(hub, now - 3600, 60, false));
  auto plain = nats_connect(hub.client_url(), d / "expired.creds", hub.file("hub/ca.pem"));
  CHECK_FALSE(plain->ok());
  CHECK(plain->status == NATS_CONNECTION_AUTH_FAILED);

  const int http = free_port();
  auto leaf = start_leaf(d, hub, d / "expired.creds", http);
  // Give it time for several reconnect attempts (reconnect: 1s); it must never be connected.
  CHECK_FALSE(wait_until([&] { return leaf_connected(http); }, 3s));
  CHECK(hub.leaf_accounts().empty());

  // The same account's valid user, for contrast, gets in.
  write_file(d / "fresh.creds", mint(hub, now, 3600, false));
  CHECK(nats_connect(hub.client_url(), d / "fresh.creds", hub.file("hub/ca.pem"))->ok());
}
