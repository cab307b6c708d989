// nats.c with a .creds file, working around nats.c 3.4.1 (Debian bookworm's): it sends no "sig"
// when the nonce signature's first byte is 0 (_base64Encode in util.c returns NULL for
// src[0] == '\0'), so 1 connect in 256 fails with "Signature missing" on the server. Here the
// nonce is signed with the agent's own nkeys code (same seed, same ed25519); a signature that
// starts with 0 fails that attempt on purpose, with kZeroSignature in the error, and connect()
// connects again (a fresh nonce). Every other failure is the server's verdict, unchanged.
#pragma once

#include <nats/nats.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
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

// Callbacks for a creds file the agent's parser takes (with a seed); nullopt otherwise (a file
// that is missing or not creds: nats.c then reads it as it is, so a test can hand it a broken one).
inline std::optional<Callbacks> from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  try {
    auto parsed = leaf::creds::parse(text.str());
    if (!parsed.seed.empty()) return Callbacks{std::move(parsed)};
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// The credentials of `file` on `opts`: from `cb` (from_file's) when there are any, which must
// then outlive the connection (nats.c calls them again at each reconnect), else nats.c's own.
inline natsStatus use(natsOptions* opts, std::optional<Callbacks>& cb, const std::string& file) {
  return cb ? natsOptions_SetUserCredentialsCallbacks(opts, jwt, &*cb, sign, &*cb)
            : natsOptions_SetUserCredentialsFromFiles(opts, file.c_str(), nullptr);
}

// natsConnection_Connect with the options `configure(natsOptions*)` sets (fresh ones at each
// attempt), made again only while it fails in the zero-byte case: at most 20 times, 1 in 256^20.
template <typename Configure>
natsStatus connect(natsConnection** nc, Configure configure) {
  for (int attempt = 0;; ++attempt) {
    natsOptions* o = nullptr;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) s = configure(o);
    if (s == NATS_OK) s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    const char* why = nats_GetLastError(nullptr);
    if (s == NATS_OK || attempt == 20 || why == nullptr || std::strstr(why, kZeroSignature) == nullptr) return s;
  }
}

}  // namespace nats_creds
