#include "agent/core/nkeys.hpp"

#include <utility>

#include "agent/core/error.hpp"

namespace leaf::nkeys {

namespace {
constexpr size_t kPublicRawLen = 1 + 32 + 2;  // prefix, key, crc
constexpr size_t kSeedRawLen = 2 + 32 + 2;    // two header bytes, seed, crc

void init_sodium() {
  if (sodium_init() < 0) throw internal_error("libsodium failed to initialise");
}

// Checks length and CRC of a decoded key; returns the payload length without the CRC.
void check_crc(const SecretBytes& raw, std::string_view what) {
  const size_t n = raw.size() - 2;
  const std::uint16_t want = static_cast<std::uint16_t>(raw[n] | (raw[n + 1] << 8));
  if (crc16_xmodem(ByteView(raw.data(), n)) != want) {
    throw creds_error(std::string(what) + ": bad checksum");
  }
}

void append_crc(Bytes& raw) {
  const std::uint16_t crc = crc16_xmodem(raw);
  raw.push_back(static_cast<std::uint8_t>(crc & 0xff));
  raw.push_back(static_cast<std::uint8_t>(crc >> 8));
}
}  // namespace

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::account: return "account";
    case KeyType::cluster: return "cluster";
    case KeyType::server: return "server";
    case KeyType::operator_: return "operator";
    case KeyType::user: return "user";
  }
  return "unknown";
}

bool is_known_type(std::uint8_t p) {
  return p == std::uint8_t(KeyType::account) || p == std::uint8_t(KeyType::cluster) ||
         p == std::uint8_t(KeyType::server) || p == std::uint8_t(KeyType::operator_) ||
         p == std::uint8_t(KeyType::user);
}

std::string encode_public(KeyType type, ByteView raw32) {
  Bytes raw;
  raw.reserve(kPublicRawLen);
  raw.push_back(static_cast<std::uint8_t>(type));
  raw.insert(raw.end(), raw32.begin(), raw32.end());
  append_crc(raw);
  return base32_encode(raw);
}

PublicKey decode_public(std::string_view text) {
  if (!text.empty() && text[0] == 'S') throw creds_error("nkey is a seed, not a public key");
  // Length first: a truncated key is the common case and deserves the plain reason.
  if (text.size() != 56) {
    throw creds_error("public nkey: wrong length (" + std::to_string(text.size()) +
                      " characters, want 56)");
  }
  SecretBytes raw;
  if (!base32_decode_into(text, raw) || raw.size() != kPublicRawLen) {
    throw creds_error("public nkey: not valid base32");
  }
  check_crc(raw, "public nkey");
  if (!is_known_type(raw[0])) throw creds_error("public nkey: unknown prefix");
  PublicKey key{static_cast<KeyType>(raw[0]), {}};
  std::copy(raw.begin() + 1, raw.begin() + 33, key.raw.begin());
  return key;
}

bool is_public_key(std::string_view text, KeyType type) {
  try {
    return decode_public(text).type == type;
  } catch (const Error&) {
    return false;
  }
}

KeyPair::KeyPair(KeyType type, const std::uint8_t* seed32) : type_(type) {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  crypto_sign_seed_keypair(pk.data(), secret_.data(), seed32);
  public_ = encode_public(type, pk);
}

KeyPair KeyPair::from_seed(std::string_view seed) {
  init_sodium();
  if (seed.empty() || seed[0] != 'S') {
    throw creds_error("not a seed (a seed starts with S, e.g. SU... for a user)");
  }
  if (seed.size() != 58) {
    throw creds_error("seed: wrong length (" + std::to_string(seed.size()) +
                      " characters, want 58)");
  }
  SecretBytes raw;
  if (!base32_decode_into(seed, raw) || raw.size() != kSeedRawLen) {
    throw creds_error("seed: not valid base32");
  }
  check_crc(raw, "seed");
  // Header: b1 = seed prefix | type >> 5, b2 = (type & 31) << 3.
  if ((raw[0] & 0xf8) != kSeedPrefix) throw creds_error("seed: wrong prefix");
  const std::uint8_t type = static_cast<std::uint8_t>(((raw[0] & 7) << 5) | (raw[1] >> 3));
  if (!is_known_type(type)) throw creds_error("seed: unknown key type");
  return KeyPair(static_cast<KeyType>(type), raw.data() + 2);
}

KeyPair KeyPair::generate(KeyType type) {
  init_sodium();
  SecretBytes seed(crypto_sign_SEEDBYTES);
  randombytes_buf(seed.data(), seed.size());
  return KeyPair(type, seed.data());
}

KeyPair::KeyPair(KeyPair&& o) noexcept
    : type_(o.type_), secret_(o.secret_), public_(std::move(o.public_)) {
  sodium_memzero(o.secret_.data(), o.secret_.size());
}

KeyPair& KeyPair::operator=(KeyPair&& o) noexcept {
  if (this != &o) {
    type_ = o.type_;
    secret_ = o.secret_;
    public_ = std::move(o.public_);
    sodium_memzero(o.secret_.data(), o.secret_.size());
  }
  return *this;
}

KeyPair::~KeyPair() { sodium_memzero(secret_.data(), secret_.size()); }

SecretString KeyPair::seed() const {
  const auto t = static_cast<std::uint8_t>(type_);
  SecretBytes raw;
  raw.reserve(kSeedRawLen);
  raw.push_back(static_cast<std::uint8_t>(kSeedPrefix | (t >> 5)));
  raw.push_back(static_cast<std::uint8_t>((t & 31) << 3));
  raw.insert(raw.end(), secret_.begin(), secret_.begin() + crypto_sign_SEEDBYTES);
  const std::uint16_t crc = crc16_xmodem(ByteView(raw.data(), raw.size()));
  raw.push_back(static_cast<std::uint8_t>(crc & 0xff));
  raw.push_back(static_cast<std::uint8_t>(crc >> 8));
  std::string text = base32_encode(ByteView(raw.data(), raw.size()));
  SecretString out(text.begin(), text.end());
  wipe(text);
  return out;
}

std::array<std::uint8_t, crypto_sign_BYTES> KeyPair::sign(ByteView message) const {
  std::array<std::uint8_t, crypto_sign_BYTES> sig{};
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

bool verify(std::string_view public_key, ByteView message, ByteView signature) {
  init_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  const PublicKey key = decode_public(public_key);
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                     key.raw.data()) == 0;
}

}  // namespace leaf::nkeys
