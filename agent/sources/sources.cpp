#include "agent/sources/sources.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"
#include "agent/sources/http_source.hpp"
#include "agent/sources/signer.hpp"

extern char** environ;

namespace leaf::sources {

namespace {
const std::string* env_value(const config::Environment& env, const std::string& name) {
  auto it = env.find(name);
  return (it == env.end() || it->second.empty()) ? nullptr : &it->second;
}

// `s` without the whitespace around it, as a view: a seed is never copied into memory that is
// freed unwiped.
std::string_view trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  const auto e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string_view() : std::string_view(s).substr(b, e - b + 1);
}

std::string display_url(const std::string& url) {
  return url.substr(0, url.find_first_of("?#"));  // a query may carry a token
}
}  // namespace

Fetched fetch(const config::Config& c, const config::Environment& env, std::int64_t now,
              const std::function<bool()>& cancelled, std::chrono::steady_clock::time_point deadline) {
  const auto& cr = c.credentials;
  if (c.source() == config::Source::file) {
    return {fs::read_secret_file(cr.file, Exit::credentials), "file " + cr.file};
  }
  if (c.source() == config::Source::env) {
    if (!cr.creds_env.empty()) {
      const std::string* v = env_value(env, cr.creds_env);
      if (!v) throw creds_error("credentials.source = env: variable " + cr.creds_env + " is not set");
      return {SecretString(v->begin(), v->end()), "env " + cr.creds_env};
    }
    const std::string* jwt = env_value(env, cr.jwt_env);
    const std::string* seed = env_value(env, cr.seed_env);
    if (!jwt || !seed) {
      throw creds_error("credentials.source = env: variable " + (jwt ? cr.seed_env : cr.jwt_env) +
                        " is not set (want the JWT in " + cr.jwt_env + " and the seed in " + cr.seed_env + ")");
    }
    return {creds::format(trimmed(*jwt), trimmed(*seed)), "env " + cr.jwt_env + "+" + cr.seed_env};
  }
  if (c.source() == config::Source::http) {
    http_source::Request req;
    req.url = cr.url;
    req.json_pointer = cr.json_pointer;
    req.token_file = cr.token_file;
    req.ca_file = cr.http_ca_file;
    req.cert_file = cr.http_cert_file;
    req.key_file = cr.http_key_file;
    req.cancelled = cancelled;
    req.deadline = deadline;
    return {http_source::fetch(req), display_url(cr.url)};
  }
  if (c.source() == config::Source::signer) {
    const nkeys::KeyPair key = signer::load_account_key(cr.account_seed_file);
    signer::UserRequest req;
    req.name = "leaf-agent";
    req.account = cr.account;
    req.ttl_seconds = std::chrono::duration_cast<Seconds>(c.ttl()).count();
    req.leaf_only = true;
    signer::Minted m = signer::mint_user(key, req, now);
    return {std::move(m.creds), "signer (key " + key.public_key().substr(0, 8) + "...)"};
  }
  throw config_error("credentials.source must be file, env, http or signer");
}

creds::Checked check_for_leaf(const Fetched& f, const config::Config& c, std::int64_t now) {
  creds::Checked ok = creds::validate(creds::parse(f.creds), now);
  const jwt::Token& t = ok.token;
  if (!c.upstream.account.empty() && ok.account != c.upstream.account) {
    throw creds_error("credentials are for account " + ok.account + ", but upstream.account is " +
                      c.upstream.account + " (user " + ok.subject + ")");
  }
  const auto types = t.allowed_connection_types();
  if (!types.empty() && std::find(types.begin(), types.end(), "LEAFNODE") == types.end()) {
    std::string list;
    for (const auto& s : types) list += (list.empty() ? "" : ", ") + s;
    throw creds_error("user " + ok.subject + " is not allowed to connect as a leaf node (allowed_connection_types: " +
                      list + "); mint it with LEAFNODE allowed");
  }
  if (auto exp = t.expires()) {
    const auto min_life = std::chrono::duration_cast<Seconds>(c.min_lifetime()).count();
    if (*exp - now < min_life) {
      throw creds_error("credentials expire in " + format_duration(Seconds(*exp - now)) + ", less than credentials.min_lifetime (" +
                        c.credentials.min_lifetime + "); renew them");
    }
  }
  return ok;
}

std::vector<std::string> child_env_drop(const config::Config& c) {
  // Whatever the source: a seed exported beside source = "file" (or left over from a switch of
  // source) is a secret all the same.
  const config::Credentials defaults;
  std::vector<std::string> out = config::secret_env_vars();
  for (const auto* n : {&c.credentials.creds_env, &c.credentials.jwt_env, &c.credentials.seed_env, &defaults.jwt_env,
                        &defaults.seed_env}) {
    if (!n->empty() && std::find(out.begin(), out.end(), *n) == out.end()) out.push_back(*n);
  }
  return out;
}

void scrub_process_environment(const config::Config& c) {
  for (const auto& name : child_env_drop(c)) {
    if (char* v = std::getenv(name.c_str())) std::memset(v, 0, std::strlen(v));
    ::unsetenv(name.c_str());
  }
}

EnvironmentCopy::EnvironmentCopy() {
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq) env.emplace(std::string(*e, static_cast<size_t>(eq - *e)), std::string(eq + 1));
  }
}

EnvironmentCopy::~EnvironmentCopy() {
  for (auto& [name, value] : env) wipe(value);
}

}  // namespace leaf::sources
