// local.auth = "jwt": a security boundary of the leaf's own, separate from the upstream one.
// At each start the agent mints a local trust chain: operator -> system account + local account
// -> a user for the host and one for the agent's own health probe. The operator and account
// seeds live only in memory while minting and are wiped; only the two users' seeds leave this
// module (0600 files in state_dir, and the host's environment). Nothing minted here is trusted
// by anything once the agent's nats-server stops, and a restart mints a new chain.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"
#include "agent/core/inspect.hpp"
#include "agent/core/secret.hpp"

namespace leaf::local_boundary {

// Names and the tag the chain's JWTs carry, so `creds inspect` can tell a local credential.
inline constexpr const char* kOperatorName = "leaf-agent-local";
inline constexpr const char* kTag = inspect::kLocalBoundaryTag;

struct TlsFilesGuard;

struct Chain {
  std::string operator_public, operator_jwt;
  std::string system_account, system_jwt;
  std::string account, account_jwt;  // the local account; the leaf remote is bound to it
  std::string host_user;             // U... of the host's user
  std::string host_jwt;
  SecretString host_seed;
  SecretString host_creds;    // written as local.creds
  std::string health_user;    // U... of the agent's probe user (no publish/subscribe rights)
  SecretString health_creds;  // written as health.creds
  std::int64_t issued_at = 0;
  // local.auth = tls: the local CA made at this start (its files are in state_dir, tls_files()).
  bool tls = false;
  std::string tls_ca_fingerprint;  // SHA-256 of the CA certificate
  // Removes the files mint wrote when the last copy of this chain dies before write_files took
  // them over: a start that fails between the two (bootstrap throws) leaves nothing behind.
  std::shared_ptr<TlsFilesGuard> tls_guard;
  bool enabled() const { return !account.empty() || tls; }
};

// local.auth = tls: the files in state_dir. ca: the local CA's certificate; server_*: the leaf's
// client port; host_*: the host's client certificate and key; health_*: the agent's check's.
struct TlsFiles {
  std::string ca, server_cert, server_key, host_cert, host_key, health_cert, health_key;
};
TlsFiles tls_files(const config::Config& c);

// The URL local clients use: nats://listen, or tls://listen with local.auth = tls.
std::string client_url(const config::Config& c);

// A fresh chain when c.local.auth = "jwt", else an empty (disabled) Chain. In dev mode the
// local account gets JetStream (the dev server runs it); on a leaf it does not (the hub's
// domain serves JetStream). Pure given `now` (the keys are random).
// With c.local.auth = "tls": a fresh local CA and its certificates, written at once (0600) into
// state_dir (which must exist, 0700, locked): nats-server -t, which bootstrap runs on a candidate
// config before write_files, reads them. The keys are not kept in memory past this call.
Chain mint(const config::Config& c, std::int64_t now);

// Paths in state_dir: local.creds (for local clients) and health.creds (the agent's probe).
std::string creds_path(const config::Config& c);
std::string health_creds_path(const config::Config& c);

// Writes local.creds and health.creds (0600) when the chain is a jwt one (a tls chain's files
// were written by mint); removes stale files of the other modes. Expects state_dir to exist (0700).
void write_files(const config::Config& c, const Chain& chain);
// Removes the files of every mode (best effort, a failure is logged): the agent is stopping and
// the chain dies with it.
void remove_files(const config::Config& c);

// Variables for the wasmCloud host's environment: its JWT and seed under the names current
// and older hosts read (see README "Local security boundary"); with tls, NATS_URL (tls://) and
// NATS_CA_FILE, NATS_CERT_FILE, NATS_KEY_FILE. Empty when disabled.
std::vector<std::string> host_env(const config::Config& c, const Chain& chain);

// What /status says about the boundary in force. Public keys only.
nlohmann::json status(const config::Config& c, const Chain& chain);

}  // namespace leaf::local_boundary
