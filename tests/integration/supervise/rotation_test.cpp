// Credential rotation against a real hub: short-lived credentials are refreshed before they
// expire, the leaf comes back with the new ones, traffic keeps flowing; a file replaced before
// expiry is picked up; a refresh with credentials of another account keeps the old ones.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/jwt.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/sources/signer.hpp"
#include "agent_support.hpp"
#include "support/https_server.hpp"

using namespace harness;

namespace {
struct Received {
  std::mutex mu;
  std::vector<Clock::time_point> at;
};

void on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* r = static_cast<Received*>(closure);
  {
    std::lock_guard<std::mutex> g(r->mu);
    r->at.push_back(Clock::now());
  }
  natsMsg_Destroy(msg);
}

// User creds for an account of the hub, minted with the library: `ttl` seconds from now.

std::string metric(const AgentSetup& a, const std::string& line_start) {
  const std::string body = http_get(a.health_url("/metrics")).body;
  const auto at = body.find("\n" + line_start + " ");
  if (at == std::string::npos) return "";
  const auto from = at + 1 + line_start.size() + 1;
  return body.substr(from, body.find('\n', from) - from);
}
}  // namespace

TEST_CASE("rotation: signer credentials living 20 s are refreshed across three expiries, traffic keeps flowing") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["credentials"] = {{"source", "\"signer\""},
                           {"account_seed_file", AgentSetup::quote(hub.file("hub/lattice-signing.nk"))},
                           {"account", AgentSetup::quote(hub.lattice_account())},
                           {"ttl", "\"20s\""},
                           {"min_lifetime", "\"2s\""}};
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const std::string first_subject = a.status()["credentials"]["subject"];

  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE_MESSAGE(hub_client->ok(), hub_client->error);
  Received got;
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, hub_client->conn, "rotation.stream", on_msg, &got) == NATS_OK);
  REQUIRE(natsConnection_Flush(hub_client->conn) == NATS_OK);
  auto local = nats_connect(a.local_url());
  REQUIRE(local->ok());
  // The hub's interest reaches the leaf: one message gets through before the count starts.
  REQUIRE(wait_until([&] {
    natsConnection_PublishString(local->conn, "rotation.stream", "probe");
    natsConnection_Flush(local->conn);
    std::lock_guard<std::mutex> g(got.mu);
    return !got.at.empty();
  }, 10s));
  std::this_thread::sleep_for(200ms);
  {
    std::lock_guard<std::mutex> g(got.mu);
    got.at.clear();
  }

  // ~100 msg/s for 56 s: three expiries (the credentials live 20 s and are replaced every ~13 s, so
  // the hub expires them at about 20 s, 33 s and 47 s).
  const auto start = Clock::now();
  int sent = 0;
  while (Clock::now() - start < 56s) {
    natsConnection_PublishString(local->conn, "rotation.stream", "x");
    ++sent;
    std::this_thread::sleep_until(start + sent * 10ms);
  }
  natsConnection_Flush(local->conn);
  std::this_thread::sleep_for(500ms);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);

  std::vector<Clock::time_point> at;
  {
    std::lock_guard<std::mutex> g(got.mu);
    at = got.at;
  }
  Clock::duration gap{0};
  for (size_t i = 1; i < at.size(); ++i) gap = std::max(gap, at[i] - at[i - 1]);
  const auto gap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(gap).count();
  const auto st = a.status();
  const int ok = st["credentials"]["refreshes"]["ok"];
  std::printf("rotation: %zu of %d messages delivered (%.1f %%) across %d refreshes; largest gap %lld ms\n", at.size(), sent,
              100.0 * static_cast<double>(at.size()) / sent, ok, static_cast<long long>(gap_ms));
  CAPTURE(p->err());
  CHECK(ok >= 3);
  CHECK(st["credentials"]["refreshes"]["error"] == 0);
  CHECK(st["credentials"]["subject"] != first_subject);
  CHECK(st["credentials"]["last_refresh"]["result"] == "ok");
  CHECK(st["credentials"]["next_refresh_at"].is_string());
  CHECK(st["credentials"]["expiring"] == false);
  CHECK(at.size() * 10 >= static_cast<size_t>(sent) * 9);
  CHECK(metric(a, "leaf_agent_credential_refreshes_total{result=\"ok\"}") == std::to_string(ok));
  CHECK(wait_until([&] { return a.ready(); }, 10s));
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
  // One line per rotation, and no seed anywhere in the log.
  const std::string log = p->err();
  size_t lines = 0;
  for (size_t at_pos = log.find("credentials rotated from signer"); at_pos != std::string::npos;
       at_pos = log.find("credentials rotated from signer", at_pos + 1)) {
    ++lines;
  }
  CHECK(lines == static_cast<size_t>(ok));
  CHECK(log.find("the hub expired the previous credentials") != std::string::npos);
  CHECK(log.find("refused the leaf credentials") == std::string::npos);
  const auto parsed = leaf::creds::parse(read_file(a.state("upstream.creds")));
  CHECK(log.find(std::string(parsed.seed.begin(), parsed.seed.end())) == std::string::npos);
  CHECK(p->stop() == 0);
}

TEST_CASE("rotation: a Secret volume's ..data swap is picked up at once and used at the next leaf connect") {
  Hub hub;
  AgentSetup a(hub);
  // The layout the kubelet writes: leaf.creds -> ..data/leaf.creds, ..data -> ..<timestamp>.
  const std::string secret = a.dir / "secret";
  REQUIRE(::mkdir(secret.c_str(), 0700) == 0);
  REQUIRE(::mkdir((secret + "/..v1").c_str(), 0700) == 0);
  const auto minted = Clock::now();
  write_file(secret + "/..v1/leaf.creds", mint_user_creds(hub, "hub/lattice.nk", 24));
  REQUIRE(::symlink("..v1", (secret + "/..data").c_str()) == 0);
  REQUIRE(::symlink("..data/leaf.creds", (secret + "/leaf.creds").c_str()) == 0);
  a.toml["credentials"] = {{"source", "\"file\""}, {"file", AgentSetup::quote(secret + "/leaf.creds")}, {"min_lifetime", "\"2s\""}};
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const auto started = Clock::now();
  std::string next_subject;
  REQUIRE(::mkdir((secret + "/..v2").c_str(), 0700) == 0);
  write_file(secret + "/..v2/leaf.creds", mint_user_creds(hub, "hub/lattice.nk", 3600, &next_subject));
  REQUIRE(::symlink("..v2", (secret + "/..data_tmp").c_str()) == 0);
  REQUIRE(::rename((secret + "/..data_tmp").c_str(), (secret + "/..data").c_str()) == 0);
  // Seen by the directory watch, well before the schedule (two thirds of 24 s) would look.
  REQUIRE_MESSAGE(wait_until([&] { return a.status()["credentials"]["subject"] == next_subject; }, 5s), p->err());
  std::printf("rotation: ..data swap picked up after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));
  CHECK(leaf::creds::parse(read_file(a.state("upstream.creds"))).jwt ==
        leaf::creds::parse(read_file(secret + "/leaf.creds")).jwt);
  CHECK(file_mode(a.state("upstream.creds")) == 0600);
  // The old credentials expire; the hub drops the leaf, which comes back with the new ones.
  REQUIRE(wait_until([&] { return p->err().find("the hub expired the previous credentials") != std::string::npos; },
                     std::chrono::duration_cast<std::chrono::milliseconds>(minted + 30s - Clock::now())));
  CHECK_MESSAGE(wait_until([&] { return a.ready() && hub.leaf_accounts().size() == 1; }, 15s), p->err());
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
  CHECK(a.status()["credentials"]["expires_in_seconds"].get<int>() > 3000);
  CHECK(p->stop() == 0);
}

TEST_CASE("rotation: new credentials of another account are refused: the old ones stay, the agent alarms") {
  Hub hub;
  AgentSetup a(hub);
  const std::string file = a.dir / "leaf.creds";
  write_file(file, mint_user_creds(hub, "hub/lattice.nk", 3600));
  a.toml["credentials"] = {{"source", "\"file\""}, {"file", AgentSetup::quote(file)}};
  a.toml["upstream"]["ping_interval"] = "\"7s\"";
  a.toml["upstream"]["ping_max"] = "4";
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const std::string before = read_file(a.state("upstream.creds"));
  write_file(file, mint_user_creds(hub, "hub/sys.nk", 3600));  // the system account's: not the leaf's
  p->signal(SIGHUP);
  REQUIRE_MESSAGE(wait_until([&] { return a.status()["credentials"]["refreshes"]["error"] == 1; }, 10s), p->err());
  const auto st = a.status();
  CHECK(st["credentials"]["last_refresh"]["result"] == "error");
  CHECK(st["credentials"]["last_refresh"]["error"].get<std::string>().find("credentials are for account") == 0);
  CHECK(read_file(a.state("upstream.creds")) == before);  // never replaced by the bad ones
  CHECK(metric(a, "leaf_agent_credential_refreshes_total{result=\"error\"}") == "1");
  CHECK(p->err().find("credentials refresh failed: credentials are for account") != std::string::npos);
  CHECK(p->err().find("retrying in 1 s") != std::string::npos);
  CHECK(a.ready());
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
  // The rendered pings reached the running nats-server (varz reports nanoseconds).
  const auto varz = nlohmann::json::parse(http_get("http://127.0.0.1:" + std::to_string(a.monitor) + "/varz").body, nullptr, false);
  CHECK(varz["ping_interval"] == 7000000000LL);
  CHECK(varz["ping_max"] == 4);
  CHECK(p->stop() == 0);
}

TEST_CASE("rotation: an HTTPS endpoint that hands out new credentials on each call") {
  Hub hub;
  CredsEndpoint endpoint;
  HttpsServer& server = *endpoint.server;
  std::string first, second;
  server.respond(200, nlohmann::json{{"creds", mint_user_creds(hub, "hub/lattice.nk", 3600, &first)}}.dump());
  AgentSetup a(hub);
  a.use_http_source(endpoint);
  auto p = a.start({}, AgentSetup::no_proxy());
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  CHECK(a.status()["credentials"]["subject"] == first);
  // The endpoint now has a new user: a refresh (SIGHUP, as the schedule would) fetches, checks
  // and writes it; the running leaf keeps its connection, the next connect uses the new user.
  server.respond(200, nlohmann::json{{"creds", mint_user_creds(hub, "hub/lattice.nk", 3600, &second)}}.dump());
  p->signal(SIGHUP);
  REQUIRE_MESSAGE(wait_until([&] { return a.status()["credentials"]["subject"] == second; }, 15s), p->err());
  CHECK(leaf::creds::parse(read_file(a.state("upstream.creds"))).jwt.find('.') != std::string::npos);
  CHECK(a.status()["credentials"]["refreshes"]["ok"] == 1);
  CHECK(a.ready());
  // A nats-server restart now starts on the rotated file (its hash was updated), and connects as the new user.
  const pid_t nats = a.status()["nats_server"]["pid"].get<pid_t>();
  ::kill(nats, SIGKILL);
  REQUIRE_MESSAGE(wait_until([&] { return a.ready() && a.status()["nats_server"]["restarts"] == 1; }, 30s), p->err());
  CHECK(p->running());
  CHECK(p->stop() == 0);
}
