// nats.c with a .creds file, working around nats.c 3.4.1 (Debian bookworm's): it sends no "sig"
// when the nonce signature's first byte is 0 (_base64Encode in util.c returns NULL for
// src[0] == '\0'), so 1 connect in 256 fails with "Signature missing" on the server. Here the
// nonce is signed with the agent's own nkeys code (same seed, same ed25519); a signature that
// starts with 0 fails that attempt on purpose, with kZeroSignature in the error, and the caller
// connects again (a fresh nonce). Every other failure is the server's verdict, unchanged.
#pragma once

#include <nats/nats.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "agent/core/creds.hpp"
#include "agent/core/encoding.hpp"
#include "agent/core/nkeys.hpp"

namespace nats_creds {

inline constexpr const char* kZeroSignature = "signature begins with a zero byte (nats.c 3.4.1 would drop it)";

// What the callbacks need; must outlive the connection (nats.c calls them at each reconnect).
struct Callbacks {
  leaf::creds::Creds creds;
};

inline natsStatus jwt(char** out, char** /*err*/, void* closure) {
  *out = ::strdup(static_cast<Callbacks*>(closure)->creds.jwt.c_str());
  return *out ? NATS_OK : NATS_NO_MEMORY;
}

inline natsStatus sign(char** err, unsigned char** sig, int* sig_len, const char* nonce, void* closure) {
  const auto& c = static_cast<Callbacks*>(closure)->creds;
  const auto raw = leaf::nkeys::KeyPair::from_seed(std::string_view(c.seed.data(), c.seed.size()))
                       .sign(leaf::as_bytes(nonce ? std::string_view(nonce) : std::string_view()));
  if (raw[0] == 0) {
    *err = ::strdup(kZeroSignature);
    return NATS_ERR;
  }
  *sig = static_cast<unsigned char*>(std::malloc(raw.size()));
  if (*sig == nullptr) return NATS_NO_MEMORY;
  std::memcpy(*sig, raw.data(), raw.size());
  *sig_len = static_cast<int>(raw.size());
  return NATS_OK;
}

// Callbacks for a creds text the agent's parser takes (with a seed); nullopt otherwise, and the
// caller hands the file to nats.c as it is (so a test can still give it a broken one).
inline std::optional<Callbacks> from_text(const std::string& text) {
  try {
    auto parsed = leaf::creds::parse(text);
    if (!parsed.seed.empty()) return Callbacks{std::move(parsed)};
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

inline natsStatus use(natsOptions* opts, Callbacks& cb) {
  return natsOptions_SetUserCredentialsCallbacks(opts, jwt, &cb, sign, &cb);
}

// True when a failed connect was the zero-byte case: connect again.
inline bool zero_signature(const char* last_error) {
  return last_error != nullptr && std::strstr(last_error, kZeroSignature) != nullptr;
}

}  // namespace nats_creds
