// Upstream preflight: before a NATS leaf node is launched, check that each upstream URL is
// well-formed, resolves, accepts TCP and presents a TLS certificate we trust for its name, so that a
// misconfiguration is reported as ONE line saying what failed instead of a reconnect loop in the
// nats-server log. OpenSSL 3; POSIX sockets; nothing is printed.
#pragma once

#include <netdb.h>

#include <chrono>
#include <functional>
#include <string>

#include "agent/config/upstream_url.hpp"

namespace leaf::preflight {

using config::Endpoint;
using config::parse_upstream_url;


// TLS settings for a probe. Empty `ca_file`: the system default trust store. `cert_file` and
// `key_file` (PEM, unencrypted key) are offered as a client certificate when both are set.
// `server_name`: the name the server certificate must be valid for (and the SNI) instead of the URL
// host. `handshake_first`: the server is configured for TLS-first on tls:// (no plaintext INFO).
struct Tls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool handshake_first = false;
};

// Outcome of one probe. `url` is the URL probed (with any user information replaced by
// "REDACTED"); `error` is empty when ok, otherwise one line starting with the failed layer:
//   "upstream URL ..."                      parse_upstream_url refused it
//   "DNS: no such host hub-a" / "DNS: <gai_strerror> for hub-a" / "DNS: no answer within <n> ms for hub-a"
//   "TCP: connection refused hub-a:7422" / "TCP: timed out connecting to hub-a:7422" /
//   "TCP: <strerror> hub-a:7422"
//   "NATS: no INFO from hub-a:7422 (not a NATS leaf node port?)"
//   "TLS: certificate verify failed (<reason>) for hub-a:7422"
//   "TLS: certificate name mismatch: hub-a:7422 presented a certificate not valid for <name>"
//   "TLS: client certificate and key do not match (cert <file>, key <file>)"
//   "TLS: CA file <file>: ..." / "TLS: certificate file <file>: ..." / "TLS: key file <file>: ..."
//   "TLS: handshake failed with hub-a:7422: <reason>"
//   "internal: ..."                         a bug or resource exhaustion
// host:port is written as in the URL ("[::1]:7422" for IPv6), with the default port filled in.
struct Probe {
  std::string url;
  bool ok = false;
  std::string error;
  std::string server_version;  // the hub's nats-server release from its INFO ("" with handshake_first or wss)
};

// Checks one upstream: parse, load the TLS files (before any I/O), DNS (getaddrinfo), TCP connect
// to each resolved address in turn, then -- for tls:// without handshake_first -- read the
// server's plaintext "INFO {...}\r\n" line, then the TLS handshake (TLS 1.2+) verifying the chain
// against the CA and the host name (or server_name). When the server asks for a client
// certificate under TLS 1.3, waits briefly after the handshake for the server's verdict on it.
// `timeout` bounds everything from DNS on together: a name lookup runs on a thread of its own
// and is waited for until the deadline ("DNS: no answer within <n> ms for hub-a"; the thread
// finishes on its own). Never throws; the socket is closed before returning.
Probe probe(const std::string& url, const Tls& tls, std::chrono::milliseconds timeout);

// getaddrinfo's signature: probe() with another name lookup (tests: one that never answers).
using Resolver = std::function<int(const char* host, const char* port, const addrinfo* hints, addrinfo** res)>;
Probe probe(const std::string& url, const Tls& tls, std::chrono::milliseconds timeout, Resolver resolver);

}  // namespace leaf::preflight
