// The honest readiness checks of a running leaf: nats-server answers /healthz, /leafz lists the
// upstream connection, and a real nats.c client on the local listener completes a flush.
// Blocking calls with short timeouts against loopback only.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"

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
  bool rtt_measured = false;  // the hub has answered a PING: it accepted the credentials
  std::string upstream;       // "ip:port" of the hub end, when connected
};

Check check_healthz(const config::Config& c);
Check check_leaf(const config::Config& c, LeafInfo* info);
Check check_client(const config::Config& c);

// All checks (the server check is the caller's knowledge of its child).
Report check_all(const config::Config& c, bool server_running, LeafInfo* info);

// GET http://<addr><path> with a short timeout; status 0 when nothing answered.
struct HttpResult {
  long status = 0;
  std::string body;
  std::string error;
};
HttpResult http_get_local(const std::string& host_port, const std::string& path, long timeout_ms);

}  // namespace leaf::health
