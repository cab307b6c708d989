// Minting user credentials from an account key: shared by `creds mint-user`, the `signer`
// credential source and `dev-hub`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "agent/core/nkeys.hpp"
#include "agent/core/secret.hpp"

namespace leaf::signer {

// Reads an account (signing) key seed from a file that holds it alone (nsc's .nk) or among
// other lines. Throws Error(Exit::credentials) naming the file.
nkeys::KeyPair load_account_key(const std::string& path);

struct UserRequest {
  std::string name = "leaf";
  std::string account;                  // A...: set when `signer` is a signing key of it
  std::optional<std::int64_t> ttl_seconds;
  bool leaf_only = false;
};

struct Minted {
  SecretString creds;   // .creds text: holds the new user's seed
  std::string subject;  // U...
  std::optional<std::int64_t> expires;
};

// Pure given `now`: a new user key pair and its JWT signed by `signer`.
Minted mint_user(const nkeys::KeyPair& signer, const UserRequest& req, std::int64_t now);

}  // namespace leaf::signer
