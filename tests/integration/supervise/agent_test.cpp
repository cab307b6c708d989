// leaf-agent run/init/render/health/wait end to end: a real dev hub, a real leaf nats-server
// launched by the agent, real nats.c clients on both sides.
#include <doctest/doctest.h>

#include <array>
#include <signal.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent_support.hpp"

using namespace harness;

namespace {
// Local addresses of the TCP sockets `pid` listens on (from /proc), e.g. "127.0.0.1:4222".
std::vector<std::string> listening_addresses(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fd_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[256] = {0};
      if (readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1) > 0 &&
          std::string(target).rfind("socket:[", 0) == 0) {
        inodes.insert(std::string(target + 8, std::strlen(target) - 9));
      }
    }
    closedir(d);
  }
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ss(line);
      std::string sl, local, remote, state, queues, tr, retr, uid, timeout, inode;
      ss >> sl >> local >> remote >> state >> queues >> tr >> retr >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;  // 0A: LISTEN
      const std::string hex_addr = local.substr(0, local.find(':'));
      const int port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
      std::string addr;
      if (hex_addr.size() == 8) {
        const unsigned v = std::stoul(hex_addr, nullptr, 16);  // little-endian in /proc
        addr = std::to_string(v & 0xff) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string((v >> 16) & 0xff) +
               "." + std::to_string(v >> 24);
      } else {
        addr = hex_addr == "00000000000000000000000001000000" ? "::1" : "ipv6:" + hex_addr;
      }
      out.push_back(addr + ":" + std::to_string(port));
    }
  }
  return out;
}

bool port_open(int port) {
  return nats_connect("nats://127.0.0.1:" + std::to_string(port), "", "", 500)->ok();
}

}  // namespace

TEST_CASE("agent run: leaf ready, round trip through the hub, loopback only, clean SIGTERM") {
  Hub hub;
  AgentSetup a(hub);
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());

  // The hub sees the leaf in the lattice account.
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});

  // A responder on the hub (TLS, client.creds) answers a request made on the leaf's localhost port.
  auto responder = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE(responder->ok());
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, responder->conn, "svc.echo", on_msg_echo, nullptr) == NATS_OK);
  natsConnection_Flush(responder->conn);
  auto local = nats_connect(a.local_url());
  REQUIRE(local->ok());
  natsMsg* reply = nullptr;
  // Interest crosses the leaf asynchronously: retry the request briefly.
  natsStatus s = NATS_TIMEOUT;
  for (int i = 0; i < 50 && s != NATS_OK; ++i) s = natsConnection_RequestString(&reply, local->conn, "svc.echo", "ping", 200);
  REQUIRE(s == NATS_OK);
  CHECK(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)) == "ping");
  natsMsg_Destroy(reply);
  natsSubscription_Destroy(sub);

  // Status, files, listeners.
  const auto st = a.status();
  CHECK(st["state"] == "ready");
  CHECK(st["credentials"]["account"] == hub.lattice_account());
  CHECK(st["upstream"]["connected"] == "127.0.0.1:" + std::to_string(hub.leaf_port));
  CHECK(file_mode(a.state("upstream.creds")) == 0600);
  CHECK(file_mode(a.dir / "state") == 0700);
  CHECK(file_mode(a.state("ready")) != -1);
  const pid_t nats_pid = st["nats_server"]["pid"].get<int>();
  const auto addrs = listening_addresses(nats_pid);
  CHECK(addrs.size() == 2);  // client and monitoring; no leafnode, cluster or gateway listener
  for (const auto& addr : addrs) {
    CAPTURE(addr);
    CHECK(addr.rfind("127.0.0.1:", 0) == 0);
  }
  const auto metrics = http_get(a.health_url("/metrics")).body;
  CHECK(metrics.find("leaf_agent_ready 1") != std::string::npos);
  CHECK(http_get(a.health_url("/livez")).status == 200);
#if LEAF_AGENT_LAZY_OPENSSL
  // Reaching ready (file credentials, a CA file, the built-in template) never needed OpenSSL, so
  // it was never loaded (agent/preflight/openssl_lazy.cpp): no OpenSSL relocation or memory.
  const std::string maps = read_file("/proc/" + std::to_string(agent->pid()) + "/maps");
  CHECK(maps.find("libssl") == std::string::npos);
  CHECK(maps.find("libcrypto") == std::string::npos);
#endif

  // The seed never reaches the logs.
  const std::string seed = seed_of_file(hub.file("hub/leaf.creds"));
  CHECK(agent->err().find(seed) == std::string::npos);
  CHECK(agent->out().find(seed) == std::string::npos);

  // SIGTERM: everything stops, exit 0, ready file gone, nats-server gone.
  CHECK(agent->stop(20s) == 0);
  CHECK(::kill(nats_pid, 0) != 0);
  CHECK(file_mode(a.state("ready")) == -1);
  CHECK_FALSE(port_open(a.listen));
}

TEST_CASE("agent run: the hub going away makes the leaf not ready, and ready again when it returns") {
  Hub hub;
  AgentSetup a(hub);
  auto agent = a.start();
  REQUIRE(wait_until([&] { return a.ready(); }, 30s));
  hub.stop();
  CHECK(wait_until([&] { return !a.ready(); }, 15s));
  CHECK(a.status()["state"] == "degraded");
  CHECK(file_mode(a.state("ready")) == -1);
  hub.start();
  CHECK(wait_until([&] { return a.ready(); }, 30s));
}

TEST_CASE("agent run -- CMD: the host starts only once ready, sees the variables, its exit code is ours") {
  Hub hub;
  AgentSetup a(hub);
  const std::string out = a.dir / "host.out";
  // The host records whether the agent was ready when it started, and its environment.
  const std::string script = "'" + agent_bin() + "' health -c '" + a.config_path() + "' > '" + out +
                             "'; echo health=$? >> '" + out + "'; env | grep -E '^(NATS_URL|WASMCLOUD_)' | sort >> '" + out +
                             "'; exit 42";
  auto agent = a.start({"sh", "-c", script});
  const auto code = agent->wait(40s);
  REQUIRE(code.has_value());
  CAPTURE(agent->err());
  CHECK(*code == 42);
  const std::string text = read_file(out);
  CHECK(text.find("health=0") != std::string::npos);
  CHECK(text.find("NATS_URL=nats://127.0.0.1:" + std::to_string(a.listen)) != std::string::npos);
  CHECK(text.find("WASMCLOUD_NATS_HOST=127.0.0.1") != std::string::npos);
  CHECK(text.find("WASMCLOUD_NATS_PORT=" + std::to_string(a.listen)) != std::string::npos);
  CHECK(text.find("WASMCLOUD_JS_DOMAIN=hub") != std::string::npos);
  CHECK_FALSE(port_open(a.listen));  // the leaf went down after the host
}

TEST_CASE("agent run -- CMD: SIGTERM stops the host first, then nats-server") {
  Hub hub;
  AgentSetup a(hub);
  const std::string out = a.dir / "order.out";
  // On TERM the host asks the leaf's monitor whether it is still up (it must be: host first).
  const std::string healthz = "http://127.0.0.1:" + std::to_string(a.monitor) + "/healthz";
  const std::string script = "trap 'code=$(curl -s -o /dev/null -w %{http_code} " + healthz + "); echo leaf_at_term=$code > \"" +
                             out + "\"; exit 0' TERM; touch \"" + out + ".armed\"; while :; do sleep 0.05; done";
  auto agent = a.start({"sh", "-c", script});
  REQUIRE(wait_until([&] { return file_mode(out + ".armed") != -1; }, 30s));  // the trap is set
  CHECK(agent->stop(20s) == 0);
  CHECK(read_file(out) == "leaf_at_term=200\n");
  CHECK_FALSE(port_open(a.listen));
}

TEST_CASE("agent run --dev: plain loopback nats-server with JetStream, same gate") {
  TempDir d;
  const int listen = free_port(), monitor = free_port(), health = free_port();
  Process agent({agent_bin(), "run", "--dev", "--state-dir", d / "state", "--listen", "127.0.0.1:" + std::to_string(listen),
                 "--monitor", "127.0.0.1:" + std::to_string(monitor), "--health-listen", "127.0.0.1:" + std::to_string(health)});
  const std::string readyz = "http://127.0.0.1:" + std::to_string(health) + "/readyz";
  REQUIRE_MESSAGE(wait_until([&] { return http_get(readyz).status == 200; }, 30s), agent.err());
  auto c = nats_connect("nats://127.0.0.1:" + std::to_string(listen));
  REQUIRE(c->ok());
  natsMsg* reply = nullptr;
  CHECK(natsConnection_RequestString(&reply, c->conn, "$JS.API.INFO", "", 2000) == NATS_OK);
  if (reply) natsMsg_Destroy(reply);
  CHECK(agent.stop(20s) == 0);
}

TEST_CASE("agent init, render, config: files written, no secrets printed") {
  Hub hub;
  AgentSetup a(hub);
  const std::string seed = seed_of_file(hub.file("hub/leaf.creds"));
  const Result init = agent({"init", "-c", a.write_config()});
  REQUIRE_MESSAGE(init.code == 0, init.err);
  CHECK(file_mode(a.state("upstream.creds")) == 0600);
  CHECK(run({leaf_nats(), "-t", "-c", a.state("nats.conf")}).code == 0);

  const Result render = agent({"render", "-c", a.config_path()});
  CHECK(render.code == 0);
  CHECK(render.out.find("listen: \"127.0.0.1:" + std::to_string(a.listen) + "\"") != std::string::npos);
  CHECK(render.out.find("credentials: \"" + a.state("upstream.creds") + "\"") != std::string::npos);
  CHECK(render.out.find(seed) == std::string::npos);
  CHECK(render.out == read_file(a.state("nats.conf")));

  const Result config = agent({"config", "-c", a.config_path()}, {{"LEAF_AGENT_AGENT_LOG_LEVEL", "debug"}});
  CHECK(config.code == 0);
  const auto j = nlohmann::json::parse(config.out);
  CHECK(j["agent"]["log_level"] == "debug");  // env over file
  CHECK(j["upstream"]["urls"][0] == hub.leaf_url());
  const Result flag = agent({"config", "-c", a.config_path(), "--log-level", "warn"}, {{"LEAF_AGENT_AGENT_LOG_LEVEL", "debug"}});
  CHECK(nlohmann::json::parse(flag.out)["agent"]["log_level"] == "warn");  // flag over env
}

TEST_CASE("agent init --nats-version: the files are for the named release, and a binary of another release does not judge them") {
  // The init container beside the official nats image of another release than the agent's own
  // nats-server: the files are for the image's, and the agent's -t would refuse a form it lacks.
  Hub hub;
  AgentSetup a(hub);
  write_file(a.dir / "mine.tmpl",
             "listen: \"{{listen}}\"\nhttp: \"{{monitor}}\"\nleafnodes {\n"
             "{{#reconnect_duration}}  reconnect: \"{{reconnect_duration}}\"\n"
             "{{/reconnect_duration}}{{^reconnect_duration}}  reconnect: {{reconnect_seconds}}\n{{/reconnect_duration}}"
             "  remotes = [ { urls: [{{#urls}}\"{{url}}\"{{/urls}}], credentials: \"{{creds_file}}\", "
             "tls { ca_file: \"{{ca_file}}\" } } ]\n}\n",
             0644);
  a.toml["agent"]["template"] = AgentSetup::quote(a.dir / "mine.tmpl");
  a.write_config();
  const auto v = nats_version_of(leaf_nats());
  const bool duration = v >= std::array<int, 3>{2, 10, 0};
  const std::string same = std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
  const std::string other = duration ? "2.9.10" : "2.15.1";  // the other form of reconnect

  const Result mine = agent({"init", "-c", a.config_path(), "--nats-version", same});
  REQUIRE_MESSAGE(mine.code == 0, mine.err);
  CHECK(mine.err.find("(for nats-server " + same + ")") != std::string::npos);
  CHECK(mine.err.find("-t is skipped") == std::string::npos);  // the binary judges its own release's files
  CHECK(read_file(a.state("nats.conf")).find(duration ? "reconnect: \"1s\"" : "reconnect: 1\n") != std::string::npos);

  const Result theirs = agent({"init", "-c", a.config_path(), "--nats-version", other});
  REQUIRE_MESSAGE(theirs.code == 0, theirs.err);  // its -t would have refused the other form
  CHECK(theirs.err.find("the config is for nats-server " + other + " (agent.nats_version); " + leaf_nats() + " is v" + same +
                        ": its -t is skipped") != std::string::npos);
  CHECK(read_file(a.state("nats.conf")).find(duration ? "reconnect: 1\n" : "reconnect: \"1s\"") != std::string::npos);

  // `run` writes for the binary it runs, whatever agent.nats_version says.
  a.toml["agent"]["nats_version"] = AgentSetup::quote(other);
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 20s), p->err());
  CHECK(a.status()["nats_server"]["version"] == same);
  CHECK(read_file(a.state("nats.conf")).find(duration ? "reconnect: \"1s\"" : "reconnect: 1\n") != std::string::npos);
  CHECK(p->stop() == 0);
}

TEST_CASE("agent health and wait: not ready without an agent, wait times out with code 7") {
  TempDir d;
  const std::string hl = "127.0.0.1:" + std::to_string(free_port());
  // No upstream settings needed: health and wait often run in the host's container.
  const Result h = agent({"health", "--state-dir", d / "s", "--health-listen", hl});
  CHECK(h.code == 1);
  CHECK(h.out.find("agent not answering on " + hl) == 0);
  const Result w = agent({"wait", "--state-dir", d / "s", "--health-listen", hl, "--timeout", "300ms"});
  CHECK(w.code == 7);
  CHECK(w.err.find("not ready after 300ms") != std::string::npos);
}

TEST_CASE("agent init: paths with quotes reach nats-server intact (no shell in between)") {
  TempDir d;
  const std::string state = d / "it's \"state\" dir";
  const Result r = agent({"init", "--dev", "--state-dir", state});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(file_mode(state + "/nats.conf") == 0600);
  CHECK(file_mode(state) == 0700);
}

TEST_CASE("agent run: a local client's words in nats-server's log change nothing about the upstream") {
  Hub hub;
  AgentSetup a(hub);
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  // Garbage and connection names that spell every line the agent acts on: nats-server logs them,
  // quoted, in lines about this client (a parser error, a connection name).
  const std::vector<std::string> words = {"Credentials file malformed", "Leafnode Error 'Authorization Violation'",
                                          "Leafnode Error 'User Authentication Expired'", "Leafnode connection closed: x",
                                          "127.0.0.1:1 - lid:1 - Leafnode connection closed: x"};
  for (const auto& w : words) {
    for (const std::string& line : {"x" + w + "\r\n", "CONNECT {\"name\":" + nlohmann::json(w).dump() + ",\"verbose\":false,\"user\":\"nobody\",\"pass\":\"x\"}\r\nPING\r\n"}) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(a.listen));
      REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      char buf[4096];
      (void)!::recv(fd, buf, sizeof buf, 0);  // INFO
      (void)!::send(fd, line.data(), line.size(), MSG_NOSIGNAL);
      (void)!::recv(fd, buf, sizeof buf, 0);  // -ERR or PONG
      ::close(fd);
    }
  }
  std::this_thread::sleep_for(500ms);
  CHECK_MESSAGE(agent->running(), agent->err());
  CHECK(a.ready());
  CHECK(agent->err().find("refused the leaf credentials") == std::string::npos);
  CHECK(agent->err().find("could not use the credentials") == std::string::npos);
  CHECK(agent->err().find("not ready") == std::string::npos);
  CHECK(agent->stop() == 0);
}
