// The readiness checks against a real leaf nats-server and a real hub: the acceptance signal
// (hub interest on the leaf connection) with good and with refused credentials, the plain
// socket HTTP GET, and the long-lived local client across a nats-server restart.
#include <doctest/doctest.h>
#include <signal.h>

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <thread>

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
  auto p = std::make_unique<Process>(std::vector<std::string>{leaf_nats(), "-c", a.state("nats.conf")});
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

TEST_CASE("health: http_get_local_all asks several paths at once and answers each in order") {
  Hub hub;
  const std::string at = "127.0.0.1:" + std::to_string(hub.http_port);
  const auto r = health::http_get_local_all(at, {"/healthz", "/nope", "/varz", "/leafz"}, 2000);
  REQUIRE(r.size() == 4);
  CHECK(r[0].status == 200);
  CHECK(r[0].body.find("ok") != std::string::npos);
  CHECK(r[1].status == 404);
  CHECK(r[2].status == 200);
  CHECK(r[2].body.find("\"server_id\"") != std::string::npos);
  CHECK(r[3].status == 200);
  CHECK(r[3].body.find("\"leafs\"") != std::string::npos);
  SUBCASE("a port that accepts and never speaks: every answer bounded by the one timeout") {
    SilentPort silent;
    const auto t0 = std::chrono::steady_clock::now();
    const auto quiet = health::http_get_local_all("127.0.0.1:" + std::to_string(silent.port), {"/healthz", "/leafz"}, 300);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    REQUIRE(quiet.size() == 2);
    for (const auto& q : quiet) {
      CHECK(q.status == 0);
      CHECK(q.error == "no response within 300 ms");
    }
  }
  SUBCASE("nothing listening") {
    const auto none = health::http_get_local_all("127.0.0.1:" + std::to_string(free_port()), {"/healthz", "/leafz"}, 500);
    REQUIRE(none.size() == 2);
    CHECK(none[1].status == 0);
    CHECK(none[1].error.find("Couldn't connect to server") != std::string::npos);
  }
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
  leaf = std::make_unique<Process>(std::vector<std::string>{leaf_nats(), "-c", a.state("nats.conf")});
  CHECK(wait_until([&] { return client.check().ok; }, 20s));
  health::LeafInfo info;
  CHECK(wait_until([&] { return health::check_all(c, true, &info, client).ready(); }, 20s));
}

namespace {
// The connection id of the agent's check client, as the server's /connz lists it; 0 when none.
std::uint64_t probe_cid(int monitor) {
  const auto r = http_get("http://127.0.0.1:" + std::to_string(monitor) + "/connz");
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return 0;
  for (const auto& c : j.value("connections", nlohmann::json::array())) {
    if (c.value("name", std::string()) == "leaf-agent health") return c.value("cid", std::uint64_t{0});
  }
  return 0;
}

std::unique_ptr<Process> plain_server(TempDir& dir, int port, int monitor, const std::string& extra) {
  write_file(dir / "s.conf", "listen: 127.0.0.1:" + std::to_string(port) + "\nhttp: 127.0.0.1:" +
                                 std::to_string(monitor) + "\n" + extra);
  auto p = std::make_unique<Process>(std::vector<std::string>{leaf_nats(), "-c", dir / "s.conf"});
  REQUIRE_MESSAGE(wait_until([&] { return http_get("http://127.0.0.1:" + std::to_string(monitor) + "/healthz").status == 200; }, 20s),
                  p->err());
  return p;
}
}  // namespace

TEST_CASE("health: the local client keeps one connection across checks") {
  TempDir dir;
  const int port = free_port(), monitor = free_port();
  auto server = plain_server(dir, port, monitor, "");
  health::LocalClient client("127.0.0.1:" + std::to_string(port));
  REQUIRE(client.check().ok);
  const std::uint64_t cid = probe_cid(monitor);
  REQUIRE(cid != 0);
  for (int i = 0; i < 5; ++i) REQUIRE(client.check().ok);
  CHECK(probe_cid(monitor) == cid);
}

TEST_CASE("health: the local client answers a PING from the server before its own PONG comes") {
  // A scripted peer, because a real server PINGs only after an idle ping_interval (timing): it
  // sends INFO, waits for the client's CONNECT and PING, PINGs the client, and answers the
  // client's PING only once the client has answered its own. A client that ignores the server's
  // PING times out here (and a real server would drop it as stale after ping_max).
  SilentPort listener;
  std::thread peer([&] {
    const int fd = ::accept(listener.fd, nullptr, nullptr);
    if (fd < 0) return;
    const std::string info = "INFO {\"server_id\":\"SCRIPTED\",\"proto\":1,\"max_payload\":1048576}\r\n";
    ::send(fd, info.data(), info.size(), MSG_NOSIGNAL);
    std::string got;
    const auto read_until = [&](const std::string& what) {
      char buf[1024];
      pollfd p{fd, POLLIN, 0};
      while (got.find(what) == std::string::npos && ::poll(&p, 1, 3000) == 1) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return false;
        got.append(buf, static_cast<size_t>(n));
      }
      return got.find(what) != std::string::npos;
    };
    if (read_until("PING\r\n")) {
      ::send(fd, "PING\r\n", 6, MSG_NOSIGNAL);
      if (read_until("PONG\r\n")) ::send(fd, "PONG\r\n", 6, MSG_NOSIGNAL);
    }
    read_until("never");  // hold the connection until the client closes it
    ::close(fd);
  });
  {
    health::LocalClient client("127.0.0.1:" + std::to_string(listener.port), 2000);
    const health::Check c = client.check();
    CHECK_MESSAGE(c.ok, c.detail);
  }
  peer.join();
}

TEST_CASE("health: the local client reports refusal and silence in one line") {
  SUBCASE("a listener that wants credentials: the server's -ERR") {
    TempDir dir;
    const int port = free_port(), monitor = free_port();
    auto server = plain_server(dir, port, monitor, "authorization { token: \"not-for-the-probe\" }\n");
    health::LocalClient client("127.0.0.1:" + std::to_string(port));
    const health::Check c = client.check();
    CHECK_FALSE(c.ok);
    CHECK(c.detail == "client on 127.0.0.1:" + std::to_string(port) + ": 'Authorization Violation'");
    CHECK_FALSE(client.connected());
  }
  SUBCASE("a port that accepts and never speaks: bounded by the timeout") {
    SilentPort silent;
    health::LocalClient client("127.0.0.1:" + std::to_string(silent.port), 300);
    const auto t0 = std::chrono::steady_clock::now();
    const health::Check c = client.check();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK_FALSE(c.ok);
    CHECK(c.detail.find("no answer within 300 ms") != std::string::npos);
  }
  SUBCASE("nothing listening") {
    health::LocalClient client("127.0.0.1:" + std::to_string(free_port()));
    const health::Check c = client.check();
    CHECK_FALSE(c.ok);
    CHECK(c.detail.find("Connection refused") != std::string::npos);
  }
}

TEST_CASE("health: the local client gives up at its timeout on a peer that never stops talking") {
  // INFO, then "+OK" lines as fast as the socket takes them (for 5 s at most): every read finds
  // data, so only a deadline looked at on every read ends the check (issue #20: it was looked at
  // only when the socket ran dry, and the check ran for as long as the peer talked).
  SilentPort listener;
  std::atomic<bool> done{false};
  std::thread peer([&] {
    const int fd = ::accept(listener.fd, nullptr, nullptr);
    if (fd < 0) return;
    const std::string info = "INFO {\"server_id\":\"TALKER\",\"proto\":1,\"max_payload\":1048576}\r\n";
    ::send(fd, info.data(), info.size(), MSG_NOSIGNAL);
    std::string flood;
    for (int i = 0; i < 2000; ++i) flood += "+OK\r\n";
    const auto until = Clock::now() + 5s;
    while (!done && Clock::now() < until) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 100) == 1 && ::send(fd, flood.data(), flood.size(), MSG_NOSIGNAL) < 0 && errno != EAGAIN) break;
    }
    ::close(fd);
  });
  health::LocalClient client("127.0.0.1:" + std::to_string(listener.port), 300);
  const auto t0 = Clock::now();
  const health::Check c = client.check();
  const auto took = Clock::now() - t0;
  done = true;
  client.reset();
  peer.join();
  CHECK_MESSAGE(took < 1s, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK_FALSE(c.ok);
  CHECK(c.detail.find("no answer within 300 ms") != std::string::npos);
}
