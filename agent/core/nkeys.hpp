// NATS nkeys on libsodium: encode/decode public keys and seeds, derive key pairs, sign, verify.
// Pure: no I/O. Errors are leaf::Error(Exit::credentials) whose message says what is wrong.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/core/encoding.hpp"
#include "agent/core/secret.hpp"

namespace leaf::nkeys {

// Prefix bytes as nats-io defines them (the first base32 letter shows the role).
enum class KeyType : std::uint8_t {
  account = 0,            // A
  cluster = 2 << 3,       // C
  server = 13 << 3,       // N
  operator_ = 14 << 3,    // O
  user = 20 << 3,         // U
};
constexpr std::uint8_t kSeedPrefix = 18 << 3;  // S

const char* type_name(KeyType t);   // "account", "user", ...
bool is_known_type(std::uint8_t prefix);

struct PublicKey {
  KeyType type;
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> raw;
};

std::string encode_public(KeyType type, ByteView raw32);
// Throws with "bad checksum", "wrong length", "unknown prefix", "is a seed, not a public key".
PublicKey decode_public(std::string_view text);
// True if `text` is a valid public key of `type`.
bool is_public_key(std::string_view text, KeyType type);

// An ed25519 key pair whose secret half is zeroed when the object dies.
class KeyPair {
 public:
  // Throws with a reason for anything that is not a well-formed seed.
  static KeyPair from_seed(std::string_view seed);
  static KeyPair generate(KeyType type);

  KeyPair(KeyPair&& other) noexcept;
  KeyPair& operator=(KeyPair&& other) noexcept;
  KeyPair(const KeyPair&) = delete;
  KeyPair& operator=(const KeyPair&) = delete;
  ~KeyPair();

  KeyType type() const { return type_; }
  const std::string& public_key() const { return public_; }
  SecretString seed() const;  // the encoded seed, S...
  std::array<std::uint8_t, crypto_sign_BYTES> sign(ByteView message) const;

 private:
  KeyPair(KeyType type, const std::uint8_t* seed32);
  KeyType type_ = KeyType::user;
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> secret_{};  // seed || public
  std::string public_;
};

// Verifies an ed25519 signature made by the key `public_key` (any nkey type).
bool verify(std::string_view public_key, ByteView message, ByteView signature);

}  // namespace leaf::nkeys
