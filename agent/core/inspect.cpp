#include "agent/core/inspect.hpp"

#include <cstring>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"

namespace leaf::inspect {

namespace {
std::string relative(std::int64_t t, std::int64_t now) {
  return t > now ? "in " + format_duration(Seconds(t - now)) : format_duration(Seconds(now - t)) + " ago";
}

std::string join(const jwt::Json& list) {
  std::string out;
  for (const auto& v : list) {
    if (!out.empty()) out += ", ";
    out += v.is_string() ? v.get<std::string>() : v.dump();
  }
  return out;
}

const char* key_role(const std::string& key) {
  if (key.empty()) return "";
  switch (key[0]) {
    case 'O': return "operator";
    case 'A': return "account";
    case 'U': return "user";
    default: return "unknown";
  }
}
}  // namespace

std::string boundary(const jwt::Token& token) {
  const auto nats = token.claims.find("nats");
  if (nats == token.claims.end() || !nats->is_object()) return {};
  const auto tags = nats->find("tags");
  if (tags == nats->end() || !tags->is_array()) return {};
  for (const auto& t : *tags) {
    if (t.is_string() && t.get<std::string>() == kLocalBoundaryTag) return "local";
  }
  return {};
}

Report inspect(std::string_view text, std::int64_t now) {
  Report r;
  r.now = now;
  creds::Creds c;
  try {
    c = creds::parse(text);
    r.token = jwt::decode(c.jwt);
    r.decoded = true;
    r.has_seed = !c.seed.empty();
    if (r.has_seed) r.seed_public = nkeys::KeyPair::from_seed(c.seed).public_key();
    if (r.has_seed && r.token->type() == "user") {
      creds::validate(c, now);
    } else {
      if (r.has_seed && r.seed_public != r.token->subject()) {
        throw creds_error("seed does not belong to this JWT (seed key " + r.seed_public +
                          ", JWT subject " + r.token->subject() + ")");
      }
      jwt::validate(*r.token, now);
    }
    r.valid = true;
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

std::string to_text(const Report& r) {
  if (!r.decoded) return {};
  const jwt::Token& t = *r.token;
  std::string out;
  auto line = [&out](const char* label, const std::string& value) {
    out += label;
    out.append(18 - std::min<size_t>(18, std::strlen(label)), ' ');
    out += value + "\n";
  };
  line("type:", t.type());
  line("name:", t.name());
  if (boundary(t) == "local") {
    line("boundary:", "local (leaf-agent's local trust chain: minted at agent start, trusted only by that agent's "
                      "leaf client port, never by the upstream)");
  }
  line("subject:", t.subject());
  std::string iss = t.issuer() + " (" + key_role(t.issuer()) + ")";
  if (!t.issuer_account().empty() && t.issuer_account() != t.issuer()) iss = t.issuer() + " (account signing key)";
  line("issuer:", iss);
  if (!t.issuer_account().empty()) line("issuer account:", t.issuer_account());
  if (auto iat = t.issued_at()) line("issued:", format_utc(*iat) + " (" + relative(*iat, r.now) + ")");
  if (auto nbf = t.not_before()) line("not before:", format_utc(*nbf) + " (" + relative(*nbf, r.now) + ")");
  auto exp = t.expires();
  line("expires:", exp ? format_utc(*exp) + " (" + relative(*exp, r.now) + ")" : "never");
  if (t.type() == "user") {
    const auto types = t.allowed_connection_types();
    std::string list;
    for (const auto& s : types) list += (list.empty() ? "" : ", ") + s;
    line("connection types:", types.empty() ? "any" : list);
    const jwt::Json& nats = t.claims["nats"];
    for (const char* dir : {"pub", "sub"}) {
      for (const char* kind : {"allow", "deny"}) {
        if (nats.contains(dir) && nats[dir].contains(kind) && !nats[dir][kind].empty()) {
          line((std::string(dir) + " " + kind + ":").c_str(), join(nats[dir][kind]));
        }
      }
    }
    if (nats.value("bearer_token", false)) line("bearer token:", "yes");
  }
  line("seed:", r.has_seed ? (r.seed_public == t.subject() ? "present, matches subject" : "present, DOES NOT match subject")
                           : "absent");
  line("valid:", r.valid ? "yes" : "no: " + r.error);
  return out;
}

jwt::Json to_json(const Report& r) {
  jwt::Json j = jwt::Json::object();
  j["valid"] = r.valid;
  if (!r.valid) j["error"] = r.error;
  if (!r.decoded) return j;
  const jwt::Token& t = *r.token;
  j["type"] = t.type();
  j["name"] = t.name();
  const std::string b = boundary(t);
  j["boundary"] = b.empty() ? jwt::Json() : jwt::Json(b);
  j["subject"] = t.subject();
  j["issuer"] = t.issuer();
  if (!t.issuer_account().empty()) j["issuer_account"] = t.issuer_account();
  if (auto iat = t.issued_at()) j["issued_at"] = format_utc(*iat);
  if (auto exp = t.expires()) {
    j["expires_at"] = format_utc(*exp);
    j["expires_in_seconds"] = *exp - r.now;
  } else {
    j["expires_at"] = nullptr;
  }
  if (t.type() == "user") {
    j["account"] = t.account();
    j["allowed_connection_types"] = t.allowed_connection_types();
    const jwt::Json& nats = t.claims["nats"];
    j["permissions"] = {{"pub", nats.value("pub", jwt::Json::object())},
                        {"sub", nats.value("sub", jwt::Json::object())}};
  }
  j["seed"] = r.has_seed ? "present" : "absent";
  j["jti"] = t.claims.value("jti", "");
  return j;
}

}  // namespace leaf::inspect
