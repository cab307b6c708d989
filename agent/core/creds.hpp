// The .creds file: parse (tolerant), format (exactly what nats-server 2.9.10 reads), and
// validate a JWT + seed pair for use as leaf credentials. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/core/jwt.hpp"
#include "agent/core/secret.hpp"

namespace leaf::creds {

struct Creds {
  std::string jwt;
  SecretString seed;  // empty when the input was a bare JWT
};

// Accepts a .creds text (LF or CRLF, with or without a trailing newline) or a bare JWT.
// Throws Error(Exit::credentials) when neither is found.
Creds parse(std::string_view text);

// The exact layout nats-server 2.9.10 parses: LF endings, a newline after each END line.
SecretString format(std::string_view jwt, std::string_view seed);

// A user credential that passed validation, with what the rest of the agent needs to know.
struct Checked {
  jwt::Token token;
  std::string subject;   // U...
  std::string account;   // A... (issuer_account or issuer)
};

// The seed is a user seed whose public key is the JWT subject; the JWT is a user JWT, issued by
// an account (key), signature verifies, valid at `now`. Throws Error(Exit::credentials).
Checked validate(const Creds& c, std::int64_t now);

}  // namespace leaf::creds
