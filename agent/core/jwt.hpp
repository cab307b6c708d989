// NATS JWT v2: decode, verify, check who may issue what and when it is valid, and mint user,
// account and operator JWTs the way nats-io/jwt encodes them. Pure: the clock is a parameter.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/encoding.hpp"
#include "agent/core/nkeys.hpp"

namespace leaf::jwt {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

struct Token {
  std::string text;            // the JWT as given
  Json header;
  Json claims;
  std::string signing_input;   // "<header_b64>.<claims_b64>", what the signature covers
  Bytes signature;

  std::string type() const;    // nats.type: "user", "account", "operator", ...
  std::string issuer() const;
  std::string subject() const;
  std::string name() const;
  std::string issuer_account() const;  // nats.issuer_account, user JWTs signed by a signing key
  std::optional<std::int64_t> issued_at() const;
  std::optional<std::int64_t> expires() const;
  std::optional<std::int64_t> not_before() const;
  std::vector<std::string> allowed_connection_types() const;
  // The account a user JWT belongs to: issuer_account if set, else the issuer.
  std::string account() const;
};

// Structure only: three base64url parts, JSON header and claims, supported algorithm.
// Throws Error(Exit::credentials) "JWT: ..." on malformed input.
Token decode(std::string_view text);

bool signature_verifies(const Token& token);

// Empty when the issuer may issue this type of JWT, else the reason.
std::string issuer_problem(const Token& token);

// Empty when `now` lies within nbf..exp, else "expired 3m ago" / "not valid for another 5m".
std::string time_problem(const Token& token, std::int64_t now);

// All of the above; throws Error(Exit::credentials) with the first problem found.
void validate(const Token& token, std::int64_t now);

// ---- minting ----

struct Permission {
  std::vector<std::string> allow;
  std::vector<std::string> deny;
};

struct UserSpec {
  std::string name;
  std::string subject;                  // the user's public key (U...)
  std::optional<std::int64_t> expires;  // unix seconds
  std::string issuer_account;           // set when signed by an account signing key
  std::vector<std::string> allowed_connection_types;  // e.g. {"LEAFNODE"}; empty = any
  Permission pub;
  Permission sub;
};

struct AccountSpec {
  std::string name;
  std::string subject;  // A...
  std::vector<std::string> signing_keys;
  bool jetstream = false;  // unlimited JetStream storage for the account
};

struct OperatorSpec {
  std::string name;
  std::string system_account;
};

OrderedJson user_claims(const UserSpec& spec);
OrderedJson account_claims(const AccountSpec& spec);
OrderedJson operator_claims(const OperatorSpec& spec, const std::string& operator_public);

// Sets iss and iat, computes jti exactly as nats-io (base32 of SHA-512/256 over the base claims
// without `nats` and with `jti` empty), and signs. `claims` carries sub, name, exp and nats.
std::string sign(const OrderedJson& claims, const nkeys::KeyPair& issuer, std::int64_t now);

// jti of a claims object (its nats member and jti are left out of the hash).
std::string compute_jti(const Json& claims);

}  // namespace leaf::jwt
