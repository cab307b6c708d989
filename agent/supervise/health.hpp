// The honest readiness checks of a running leaf: nats-server answers /healthz, the hub has
// accepted the leaf connection (/leafz), and a NATS client on the local listener gets its PING
// answered. Blocking calls with short timeouts against loopback only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"
#include "agent/supervise/events.hpp"

namespace leaf::health {

struct Check {
  bool ok = false;
  std::string detail;  // one line: why not, or what was seen
};

struct Report {
  Check server;   // the nats-server process is running
  Check healthz;  // GET /healthz is 200
  Check leaf;     // /leafz shows the remote connected (always ok in dev mode)
  Check client;   // a local client connects and flushes
  bool ready() const { return server.ok && healthz.ok && leaf.ok && client.ok; }
  nlohmann::json to_json() const;
};

struct LeafInfo {
  bool connected = false;     // /leafz lists the remote
  // The hub has accepted the credentials: it sent its subscription interest across the leaf
  // (at least its loop-detection subject $LDS.<id>), which it does only after CONNECT passed
  // authentication. Checked on nats-server 2.9.10: while the hub refuses the credentials the
  // leaf's /leafz never lists the connection (so subscriptions stay 0); on acceptance it is
  // listed with 0 and 14 subscriptions arrive within about 1 ms. A caller may declare the
  // leaf ready as soon as this is true, with no settle delay.
  bool accepted = false;
  std::uint32_t subscriptions = 0;  // hub interest on the connection, from /leafz
  std::string upstream;             // "ip:port" of the hub end, when connected
};

Check check_healthz(const config::Config& c);
Check check_leaf(const config::Config& c, LeafInfo* info);
Check check_client(const config::Config& c);

// All checks (the server check is the caller's knowledge of its child).
Report check_all(const config::Config& c, bool server_running, LeafInfo* info);

// A long-lived client connection to the local listener for periodic checks: one connection for
// the agent's lifetime instead of a new one every few seconds. check() is a PING/PONG round trip;
// when the connection is gone it reconnects once, so a restarted nats-server is picked up at the
// next check. Not thread safe: one caller.
//
// It speaks the four protocol lines a check needs (INFO, CONNECT with the signed nonce when
// local.auth = jwt, PING, PONG) over a plain socket, not nats.c: a nats.c connection costs the
// agent about 3 MB of resident memory (its threads, buffers and OpenSSL) for a loopback ping,
// and the agent's budget is 8 MB (issue #10). The tests' clients are nats.c.
class TlsLocalClient;  // local.auth = tls (local_tls_client.hpp)

class LocalClient {
 public:
  // `creds`: a .creds file to authenticate with (local.auth = jwt), or "".
  explicit LocalClient(std::string listen, int timeout_ms = 1000, std::string creds = "");
  // The agent's own client for config `c`: local.listen, with health.creds when local.auth = jwt,
  // over TLS with the health certificate when local.auth = tls.
  explicit LocalClient(const config::Config& c);
  ~LocalClient();
  LocalClient(const LocalClient&) = delete;
  LocalClient& operator=(const LocalClient&) = delete;
  Check check();
  void reset();  // drop the connection (e.g. the caller knows nats-server exited)
  bool connected() const;

 private:
  using Clock = std::chrono::steady_clock;
  bool read_line(std::string& line, Clock::time_point deadline, std::string& error);
  bool handshake(Clock::time_point deadline, std::string& error);

  std::string listen_;
  std::string creds_;
  int timeout_ms_;
  int fd_ = -1;
  std::string in_;  // received bytes not yet consumed as lines
  std::unique_ptr<TlsLocalClient> tls_;  // local.auth = tls: the checks go through it
};

// check_all with a long-lived client instead of a new connection.
Report check_all(const config::Config& c, bool server_running, LeafInfo* info, LocalClient& client);

// GET http://<addr><path> with a short timeout; status 0 when nothing answered. A plain
// loopback socket and HTTP/1.0 (no libcurl): this runs every few milliseconds while a leaf
// comes up, and in `leaf-agent health`, where loading libcurl would cost more than the check.
struct HttpResult {
  long status = 0;
  std::string body;
  std::string error;
};
HttpResult http_get_local(const std::string& host_port, const std::string& path, long timeout_ms);
// The same for several paths at once, each on its own connection: the answers come as fast as
// the slowest, not as their sum (the check after the hub's acceptance asks two). In `paths` order.
std::vector<HttpResult> http_get_local_all(const std::string& host_port, const std::vector<std::string>& paths,
                                           long timeout_ms);

// What a readiness check saw, as the event the supervisor judges (check number `seq`).
supervise::CheckResult check_result(long seq, const Report& r, const LeafInfo& info);

}  // namespace leaf::health
