#include "agent/config/local_boundary.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/config/local_tls.hpp"
#include "agent/config/render.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/core/jwt.hpp"
#include "agent/io/fs.hpp"
#include "agent/io/logging.hpp"

namespace leaf::local_boundary {

namespace {

std::string sign_tagged(jwt::OrderedJson claims, const nkeys::KeyPair& issuer, std::int64_t now) {
  claims["nats"]["tags"] = {kTag};
  return jwt::sign(claims, issuer, now);
}

struct MintedUser {
  std::string subject, jwt;
  SecretString seed, creds;
};

MintedUser mint_user(const nkeys::KeyPair& account, const std::string& name, const jwt::Permission& pub,
                     const jwt::Permission& sub, std::int64_t now) {
  const auto user = nkeys::KeyPair::generate(nkeys::KeyType::user);
  jwt::UserSpec spec;
  spec.name = name;
  spec.subject = user.public_key();
  // Plain clients only: a local credential must not be usable to attach another leaf node.
  spec.allowed_connection_types = {"STANDARD"};
  spec.pub = pub;
  spec.sub = sub;
  MintedUser m;
  m.subject = user.public_key();
  m.jwt = sign_tagged(jwt::user_claims(spec), account, now);
  m.seed = user.seed();
  m.creds = creds::format(m.jwt, m.seed);
  return m;
}

std::string state_file(const config::Config& c, const char* name) { return render::layout(c).dir + "/" + name; }

void remove_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    logging::agent()->warn("cannot remove {}: {}", path, std::strerror(errno));
  }
}

void remove_jwt_files(const config::Config& c);
void remove_tls_files(const config::Config& c);
}  // namespace

struct TlsFilesGuard {
  config::Config c;
  bool committed = false;
  ~TlsFilesGuard() {
    if (!committed) remove_tls_files(c);
  }
};

namespace {

// local.auth = tls: a new CA, its certificates, their files (see mint in the header).
Chain mint_tls(const config::Config& c, std::int64_t now) {
  const config::HostPort listen = config::parse_listen(c.local.listen, "local.listen");
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  if (std::find(names.begin(), names.end(), listen.host) == names.end()) names.push_back(listen.host);
  const local_tls::Material m = local_tls::issue(names);
  const TlsFiles f = tls_files(c);
  remove_jwt_files(c);
  auto guard = std::make_shared<TlsFilesGuard>();
  guard->c = c;
  // Keys first: a certificate without its key is useless to whoever finds one.
  fs::write_atomic(f.server_key, m.server.key_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.host_key, m.host.key_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.health_key, m.health.key_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.server_cert, m.server.cert_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.host_cert, m.host.cert_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.health_cert, m.health.cert_pem, 0600, fs::Durability::atomic_only);
  fs::write_atomic(f.ca, m.ca_pem, 0600, fs::Durability::atomic_only);
  Chain ch;
  ch.tls = true;
  ch.tls_ca_fingerprint = m.ca_fingerprint;
  ch.tls_guard = std::move(guard);
  ch.host_user = local_tls::kHostUser;
  ch.health_user = local_tls::kHealthUser;
  ch.issued_at = now;
  return ch;
}

}  // namespace

TlsFiles tls_files(const config::Config& c) {
  return {state_file(c, "local-ca.pem"),    state_file(c, "local-server-cert.pem"), state_file(c, "local-server-key.pem"),
          state_file(c, "host-cert.pem"),   state_file(c, "host-key.pem"),          state_file(c, "health-cert.pem"),
          state_file(c, "health-key.pem")};
}

std::string client_url(const config::Config& c) {
  return (c.local.tls() ? "tls://" : "nats://") + config::parse_listen(c.local.listen, "local.listen").str();
}

Chain mint(const config::Config& c, std::int64_t now) {
  if (c.local.tls()) return mint_tls(c, now);
  Chain ch;
  if (!c.local.jwt()) return ch;
  // Signing keys: generated here, used here, wiped when these objects die at return.
  const auto op = nkeys::KeyPair::generate(nkeys::KeyType::operator_);
  const auto sys = nkeys::KeyPair::generate(nkeys::KeyType::account);
  const auto local = nkeys::KeyPair::generate(nkeys::KeyType::account);

  ch.issued_at = now;
  ch.operator_public = op.public_key();
  ch.operator_jwt = sign_tagged(jwt::operator_claims({kOperatorName, sys.public_key()}, op.public_key()), op, now);
  ch.system_account = sys.public_key();
  ch.system_jwt = sign_tagged(jwt::account_claims({"LOCAL-SYS", sys.public_key(), {}, false}), op, now);
  ch.account = local.public_key();
  ch.account_jwt = sign_tagged(jwt::account_claims({"LOCAL", local.public_key(), {}, c.dev()}), op, now);

  MintedUser host = mint_user(local, "host", {c.local.host_pub_allow, c.local.host_pub_deny},
                              {c.local.host_sub_allow, c.local.host_sub_deny}, now);
  ch.host_user = host.subject;
  ch.host_jwt = host.jwt;
  ch.host_seed = std::move(host.seed);
  ch.host_creds = std::move(host.creds);
  // The probe only connects and flushes (PING/PONG): it needs no subject at all.
  MintedUser health = mint_user(local, "agent-health", {{}, {">"}}, {{}, {">"}}, now);
  ch.health_user = health.subject;
  ch.health_creds = std::move(health.creds);
  return ch;
}

std::string creds_path(const config::Config& c) { return state_file(c, "local.creds"); }
std::string health_creds_path(const config::Config& c) { return state_file(c, "health.creds"); }

namespace {
void remove_jwt_files(const config::Config& c) {
  remove_if_present(creds_path(c));
  remove_if_present(health_creds_path(c));
}
void remove_tls_files(const config::Config& c) {
  const TlsFiles f = tls_files(c);
  for (const std::string* p : {&f.ca, &f.server_cert, &f.server_key, &f.host_cert, &f.host_key, &f.health_cert, &f.health_key}) {
    remove_if_present(*p);
  }
}
}  // namespace

void write_files(const config::Config& c, const Chain& chain) {
  if (!chain.enabled()) return remove_files(c);
  if (chain.tls) {  // written by mint (nats-server -t reads them before this); kept from here on
    if (chain.tls_guard) chain.tls_guard->committed = true;
    const TlsFiles f = tls_files(c);
    logging::agent()->info("local boundary: clients need TLS with a certificate of the local CA made at start (CA sha256 "
                           "{}; host certificate {}, key {}, CA {})",
                           chain.tls_ca_fingerprint, f.host_cert, f.host_key, f.ca);
    return;
  }
  remove_tls_files(c);
  fs::write_atomic(creds_path(c), chain.host_creds, 0600);
  fs::write_atomic(health_creds_path(c), chain.health_creds, 0600);
  logging::agent()->info("local boundary: clients need local credentials (operator {}, account {}, host user {}, {})",
                         chain.operator_public, chain.account, chain.host_user, creds_path(c));
}

void remove_files(const config::Config& c) {
  remove_jwt_files(c);
  remove_tls_files(c);
}

std::vector<std::string> host_env(const config::Config& c, const Chain& chain) {
  if (!chain.enabled()) return {};
  std::vector<std::string> env;
  if (chain.tls) {
    // What a wasmCloud 2.x host's `wash host` takes as flags (--scheduler-nats-url,
    // --scheduler-nats-tls-ca/-cert/-key and the --data-nats-* ones): a host command turns these
    // into its flags (README "wasmCloud versions"). NATS_URL replaces the runner's nats:// one.
    const TlsFiles f = tls_files(c);
    env.push_back("NATS_URL=" + client_url(c));
    env.push_back("NATS_CA_FILE=" + f.ca);
    env.push_back("NATS_CERT_FILE=" + f.host_cert);
    env.push_back("NATS_KEY_FILE=" + f.host_key);
    return env;
  }
  // wasmCloud 1.x reads WASMCLOUD_NATS_JWT/_SEED for both connections; CTL and RPC variants are
  // what 0.x hosts read and still override per connection. The *_CREDS variants are not set:
  // the host refuses a creds path together with a JWT.
  for (const char* prefix : {"WASMCLOUD_NATS", "WASMCLOUD_CTL", "WASMCLOUD_RPC"}) {
    env.push_back(std::string(prefix) + "_JWT=" + chain.host_jwt);
    env.push_back(std::string(prefix) + "_SEED=" + std::string(chain.host_seed.data(), chain.host_seed.size()));
  }
  return env;
}

nlohmann::json status(const config::Config& c, const Chain& chain) {
  if (!chain.enabled()) {
    return {{"mode", "none"}, {"detail", "anonymous clients on loopback; the upstream account's rights apply"}};
  }
  auto list = [](const std::vector<std::string>& v) { return v.empty() ? nlohmann::json("(all)") : nlohmann::json(v); };
  const nlohmann::json permissions = {{"pub", {{"allow", list(c.local.host_pub_allow)}, {"deny", c.local.host_pub_deny}}},
                                      {"sub", {{"allow", list(c.local.host_sub_allow)}, {"deny", c.local.host_sub_deny}}}};
  if (chain.tls) {
    const TlsFiles f = tls_files(c);
    return {{"mode", "tls"},
            {"detail", "local clients need TLS with a client certificate of the local CA made at start"},
            {"url", client_url(c)},
            {"ca_sha256", chain.tls_ca_fingerprint},
            {"host_user", chain.host_user},
            {"host_permissions", permissions},
            {"ca_file", f.ca},
            {"cert_file", f.host_cert},
            {"key_file", f.host_key},
            {"made_at", format_utc(chain.issued_at)}};
  }
  return {{"mode", "jwt"},
          {"detail", "local clients need credentials of the local trust chain minted at start"},
          {"operator", chain.operator_public},
          {"account", chain.account},
          {"host_user", chain.host_user},
          {"host_permissions", permissions},
          {"creds_file", creds_path(c)},
          {"minted_at", format_utc(chain.issued_at)}};
}

}  // namespace leaf::local_boundary
