#include "agent/config/local_boundary.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

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

}  // namespace

Chain mint(const config::Config& c, std::int64_t now) {
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

void write_files(const config::Config& c, const Chain& chain) {
  if (!chain.enabled()) return remove_files(c);
  fs::write_atomic(creds_path(c), chain.host_creds, 0600);
  fs::write_atomic(health_creds_path(c), chain.health_creds, 0600);
  logging::agent()->info("local boundary: clients need local credentials (operator {}, account {}, host user {}, {})",
                         chain.operator_public, chain.account, chain.host_user, creds_path(c));
}

void remove_files(const config::Config& c) {
  remove_if_present(creds_path(c));
  remove_if_present(health_creds_path(c));
}

std::vector<std::string> host_env(const config::Config& c, const Chain& chain) {
  if (!chain.enabled()) return {};
  (void)c;
  std::vector<std::string> env;
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
  return {{"mode", "jwt"},
          {"detail", "local clients need credentials of the local trust chain minted at start"},
          {"operator", chain.operator_public},
          {"account", chain.account},
          {"host_user", chain.host_user},
          {"host_permissions",
           {{"pub", {{"allow", list(c.local.host_pub_allow)}, {"deny", c.local.host_pub_deny}}},
            {"sub", {{"allow", list(c.local.host_sub_allow)}, {"deny", c.local.host_sub_deny}}}}},
          {"creds_file", creds_path(c)},
          {"minted_at", format_utc(chain.issued_at)}};
}

}  // namespace leaf::local_boundary
