// local.auth = "tls": the leaf's client port on loopback requires TLS with a client certificate
// of a CA the agent makes at each start (wasmCloud 2.x hosts take a CA, a certificate and a key
// for their NATS connections, and no JWT). The CA's key lives only in memory while this module
// issues the certificates and is freed (OpenSSL clears EC private keys) before issue() returns;
// nothing it signed is trusted once the agent's nats-server stops, and a restart makes a new CA.
//
// nats-server maps a client certificate to a `users` entry (tls.verify_and_map): it tries the
// certificate's SAN e-mail addresses first, each as an exact user name, then its SAN DNS names,
// then its subject (Go's RFC 2253 string; 2.10+ also match DN fields in any order). The same in
// every release from 2.9 to 2.15 (server/auth.go checkClientTLSCertSubject). So each client
// certificate here carries exactly one e-mail SAN, its user name, and no DNS name: the e-mail
// match is exact and the first tried on every release.
//
// OpenSSL 3 is used only when local.auth = "tls" (leaf-agent loads it on first use).
#pragma once

#include <string>
#include <vector>

#include "agent/core/secret.hpp"

namespace leaf::local_tls {

// The users the certificates map to (their SAN e-mail addresses).
inline constexpr const char* kHostUser = "host@leaf-agent.local";
inline constexpr const char* kHealthUser = "agent-health@leaf-agent.local";

struct Issued {
  std::string cert_pem;
  SecretString key_pem;  // PKCS#8, unencrypted
};

struct Material {
  std::string ca_pem;          // the local CA's certificate (its key is gone)
  std::string ca_fingerprint;  // SHA-256 of the CA certificate's DER, hex with colons
  Issued server;               // serverAuth for `server_names` (SAN IP/DNS)
  Issued host;                 // clientAuth, SAN email kHostUser
  Issued health;               // clientAuth, SAN email kHealthUser
};

// A fresh CA and the three certificates, EC P-256 keys, SHA-256 signatures, valid from an hour
// ago for `days` days. Failures of OpenSSL (or OpenSSL missing) throw leaf::Error.
Material issue(const std::vector<std::string>& server_names, int days = 3650);

}  // namespace leaf::local_tls
