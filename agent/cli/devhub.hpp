// `dev-hub`: one command instead of nsc + openssl for development. Creates an operator, a system
// account, a lattice account (with a signing key), leaf and client user credentials, a CA and
// a server certificate, and hub.conf for nats-server in operator mode with TLS.
#pragma once

#include <string>
#include <vector>

namespace leaf::devhub {

struct Options {
  std::string dir;
  std::string host = "127.0.0.1";        // where the hub listens; also a SAN of its certificate
  std::vector<std::string> names;        // extra SANs (host names or IPs)
  int port = 14222;                      // client port (TLS)
  int leaf_port = 17422;                 // leaf node port (TLS)
  int http_port = 18222;                 // monitoring
  std::string js_domain = "hub";
  bool force = false;
};

struct Result {
  std::string lattice_account;   // A...
  std::string system_account;    // A...
  std::string leaf_creds;        // path
  std::string hub_conf;          // path
  std::string agent_toml;        // path: an agent config pointing at this hub
};

// Writes everything under opts.dir (0700; keys and seeds 0600). Refuses an existing,
// non-empty dir unless opts.force. Throws leaf::Error.
Result create(const Options& opts);

}  // namespace leaf::devhub
