#include "agent/core/jwt.hpp"

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"

namespace leaf::jwt {

namespace {

std::string str_member(const Json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

std::optional<std::int64_t> int_member(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() == 0) return std::nullopt;
  return it->get<std::int64_t>();
}

const Json& nats_of(const Json& claims) {
  static const Json empty = Json::object();
  auto it = claims.find("nats");
  return (it != claims.end() && it->is_object()) ? *it : empty;
}

Json parse_part(std::string_view part, const char* what) {
  auto raw = base64url_decode(part);
  if (!raw) throw creds_error(std::string("JWT: ") + what + " is not valid base64url");
  Json j = Json::parse(raw->begin(), raw->end(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw creds_error(std::string("JWT: ") + what + " is not a JSON object");
  return j;
}

void add_permission(OrderedJson& nats, const char* key, const Permission& p) {
  OrderedJson o = OrderedJson::object();
  if (!p.allow.empty()) o["allow"] = p.allow;
  if (!p.deny.empty()) o["deny"] = p.deny;
  nats[key] = o;
}

}  // namespace

std::string Token::type() const { return str_member(nats_of(claims), "type"); }
std::string Token::issuer() const { return str_member(claims, "iss"); }
std::string Token::subject() const { return str_member(claims, "sub"); }
std::string Token::name() const { return str_member(claims, "name"); }
std::string Token::issuer_account() const { return str_member(nats_of(claims), "issuer_account"); }
std::optional<std::int64_t> Token::issued_at() const { return int_member(claims, "iat"); }
std::optional<std::int64_t> Token::expires() const { return int_member(claims, "exp"); }
std::optional<std::int64_t> Token::not_before() const { return int_member(claims, "nbf"); }

std::vector<std::string> Token::allowed_connection_types() const {
  std::vector<std::string> out;
  const Json& nats = nats_of(claims);
  auto it = nats.find("allowed_connection_types");
  if (it != nats.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

std::string Token::account() const {
  std::string a = issuer_account();
  return a.empty() ? issuer() : a;
}

Token decode(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  const size_t d1 = text.find('.');
  const size_t d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
  if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
      text.find('.', d2 + 1) != std::string_view::npos) {
    throw creds_error("JWT: want three dot-separated parts");
  }
  Token t;
  t.text = std::string(text);
  t.signing_input = std::string(text.substr(0, d2));
  t.header = parse_part(text.substr(0, d1), "header");
  t.claims = parse_part(text.substr(d1 + 1, d2 - d1 - 1), "claims");
  auto sig = base64url_decode(text.substr(d2 + 1));
  if (!sig) throw creds_error("JWT: signature is not valid base64url");
  t.signature = std::move(*sig);

  const std::string typ = str_member(t.header, "typ");
  const std::string alg = str_member(t.header, "alg");
  if (typ != "JWT" && typ != "jwt") throw creds_error("JWT: header typ is not JWT");
  if (alg != "ed25519-nkey" && alg != "ed25519") {
    throw creds_error("JWT: unsupported algorithm \"" + alg + "\" (want ed25519-nkey)");
  }
  if (!t.claims.contains("nats") || t.type().empty()) {
    throw creds_error("JWT: no nats.type claim (not a NATS JWT)");
  }
  return t;
}

bool signature_verifies(const Token& t) {
  try {
    return nkeys::verify(t.issuer(), as_bytes(t.signing_input), t.signature);
  } catch (const Error&) {
    return false;  // an unparsable issuer cannot have signed it; issuer_problem says why
  }
}

std::string issuer_problem(const Token& t) {
  using nkeys::KeyType;
  using nkeys::is_public_key;
  const std::string type = t.type();
  const std::string iss = t.issuer();
  const std::string sub = t.subject();
  if (type == "user") {
    if (!is_public_key(sub, KeyType::user)) return "subject of a user JWT is not a user key (U...)";
    if (!is_public_key(iss, KeyType::account)) {
      return "a user JWT must be issued by an account key (A...), not \"" + iss.substr(0, 1) + "...\"";
    }
    const std::string ia = t.issuer_account();
    if (!ia.empty() && !is_public_key(ia, KeyType::account)) {
      return "issuer_account is not an account key (A...)";
    }
    return {};
  }
  if (type == "account") {
    if (!is_public_key(sub, KeyType::account)) return "subject of an account JWT is not an account key (A...)";
    if (!is_public_key(iss, KeyType::operator_)) return "an account JWT must be issued by an operator key (O...)";
    return {};
  }
  if (type == "operator") {
    if (!is_public_key(sub, KeyType::operator_)) return "subject of an operator JWT is not an operator key (O...)";
    if (!is_public_key(iss, KeyType::operator_)) return "an operator JWT must be issued by an operator key (O...)";
    if (iss != sub) {
      // Only the operator itself or one of its signing keys may sign it.
      const Json& keys = nats_of(t.claims).value("signing_keys", Json::array());
      bool listed = false;
      for (const auto& k : keys) listed = listed || (k.is_string() && k.get<std::string>() == iss);
      if (!listed) return "operator JWT is not self-signed nor signed by one of its signing keys";
    }
    return {};
  }
  return "unsupported JWT type \"" + type + "\"";
}

std::string time_problem(const Token& t, std::int64_t now) {
  if (auto exp = t.expires(); exp && *exp <= now) {
    return "expired " + format_duration(Seconds(now - *exp)) + " ago";
  }
  if (auto nbf = t.not_before(); nbf && *nbf > now) {
    return "not valid for another " + format_duration(Seconds(*nbf - now));
  }
  return {};
}

void validate(const Token& t, std::int64_t now) {
  if (std::string p = issuer_problem(t); !p.empty()) throw creds_error(p);
  if (!signature_verifies(t)) throw creds_error("signature does not verify");
  if (std::string p = time_problem(t, now); !p.empty()) throw creds_error(p);
}

OrderedJson user_claims(const UserSpec& s) {
  OrderedJson c;
  if (s.expires) c["exp"] = *s.expires;
  c["name"] = s.name;
  c["sub"] = s.subject;
  OrderedJson nats;
  add_permission(nats, "pub", s.pub);
  add_permission(nats, "sub", s.sub);
  nats["subs"] = -1;
  nats["data"] = -1;
  nats["payload"] = -1;
  if (!s.allowed_connection_types.empty()) nats["allowed_connection_types"] = s.allowed_connection_types;
  if (!s.issuer_account.empty()) nats["issuer_account"] = s.issuer_account;
  nats["type"] = "user";
  nats["version"] = 2;
  c["nats"] = nats;
  return c;
}

OrderedJson account_claims(const AccountSpec& s) {
  OrderedJson c;
  c["name"] = s.name;
  c["sub"] = s.subject;
  OrderedJson limits = {{"subs", -1}, {"data", -1}, {"payload", -1}, {"imports", -1},
                        {"exports", -1}, {"wildcards", true}, {"conn", -1}, {"leaf", -1}};
  if (s.jetstream) {
    limits["mem_storage"] = -1;
    limits["disk_storage"] = -1;
    limits["streams"] = -1;
    limits["consumer"] = -1;
  }
  OrderedJson nats;
  nats["limits"] = limits;
  if (!s.signing_keys.empty()) nats["signing_keys"] = s.signing_keys;
  nats["default_permissions"] = {{"pub", OrderedJson::object()}, {"sub", OrderedJson::object()}};
  nats["type"] = "account";
  nats["version"] = 2;
  c["nats"] = nats;
  return c;
}

OrderedJson operator_claims(const OperatorSpec& s, const std::string& operator_public) {
  OrderedJson c;
  c["name"] = s.name;
  c["sub"] = operator_public;
  OrderedJson nats;
  if (!s.system_account.empty()) nats["system_account"] = s.system_account;
  nats["type"] = "operator";
  nats["version"] = 2;
  c["nats"] = nats;
  return c;
}

std::string compute_jti(const Json& claims) {
  // nats-io hashes its ClaimsData struct: aud, exp, iat, iss, name, nbf, sub, omitting empty
  // ones. That order is alphabetical, which is how nlohmann::json serialises objects.
  Json base = Json::object();
  for (const char* key : {"aud", "exp", "iat", "iss", "name", "nbf", "sub"}) {
    auto it = claims.find(key);
    if (it == claims.end()) continue;
    if ((it->is_string() && it->get<std::string>().empty()) ||
        (it->is_number_integer() && it->get<std::int64_t>() == 0)) {
      continue;
    }
    base[key] = *it;
  }
  const std::string text = base.dump();
  const auto digest = sha512_256(as_bytes(text));
  return base32_encode(ByteView(digest.data(), digest.size()));
}

std::string sign(const OrderedJson& claims, const nkeys::KeyPair& issuer, std::int64_t now) {
  Json plain = Json::parse(claims.dump());
  plain["iss"] = issuer.public_key();
  plain["iat"] = now;
  plain.erase("jti");
  const std::string jti = compute_jti(plain);
  // Field order of nats-io's ClaimsData, then the nats object.
  OrderedJson out;
  for (const char* key : {"aud", "exp", "jti", "iat", "iss", "name", "nbf", "sub", "nats"}) {
    if (std::string_view(key) == "jti") {
      out["jti"] = jti;
    } else if (std::string_view(key) == "iat") {
      out["iat"] = now;
    } else if (std::string_view(key) == "iss") {
      out["iss"] = issuer.public_key();
    } else if (claims.contains(key)) {
      out[key] = claims[key];
    }
  }
  static const std::string header = base64url_encode(as_bytes(R"({"typ":"JWT","alg":"ed25519-nkey"})"));
  const std::string input = header + "." + base64url_encode(as_bytes(out.dump()));
  const auto sig = issuer.sign(as_bytes(input));
  return input + "." + base64url_encode(sig);
}

}  // namespace leaf::jwt
