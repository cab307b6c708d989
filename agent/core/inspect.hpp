// What `creds inspect` reports about a .creds text or a bare JWT. Pure: never carries the seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/jwt.hpp"

namespace leaf::inspect {

// The tag on every JWT of leaf-agent's local trust chain (local.auth = "jwt").
inline constexpr const char* kLocalBoundaryTag = "leaf-agent:local-boundary";

// "local" for a JWT of leaf-agent's local trust chain, "" otherwise.
std::string boundary(const jwt::Token& token);

struct Report {
  bool decoded = false;          // false: nothing readable, only `error` is set
  std::optional<jwt::Token> token;
  bool has_seed = false;
  std::string seed_public;       // the seed's public key (not secret), when a seed was given
  bool valid = false;
  std::string error;             // the first problem, one line
  std::int64_t now = 0;
};

Report inspect(std::string_view text, std::int64_t now);

std::string to_text(const Report& r);
jwt::Json to_json(const Report& r);

}  // namespace leaf::inspect
