// Encodings used by nkeys and NATS JWTs. Pure functions, no I/O.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace leaf {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// RFC 4648 base32, standard alphabet, no padding (as nkeys and JWT `jti` use it).
std::string base32_encode(ByteView data);
// Decodes into `out`; false on a character outside the alphabet or leftover non-zero bits.
bool base32_decode(std::string_view text, std::vector<std::uint8_t>& out);
template <class Vec>
bool base32_decode_into(std::string_view text, Vec& out) {
  std::vector<std::uint8_t> tmp;
  if (!base32_decode(text, tmp)) return false;
  out.assign(tmp.begin(), tmp.end());
  std::fill(tmp.begin(), tmp.end(), 0);
  return true;
}

// base64url without padding (JWT parts); decoding also accepts padding and the standard
// alphabet's absence of it, as nats-io readers do.
std::string base64url_encode(ByteView data);
std::optional<Bytes> base64url_decode(std::string_view text);

// SHA-512/256 (FIPS 180-4 5.3.6.2; NATS JWT `jti`): libsodium's SHA-512 started from the
// SHA-512/256 initial values, truncated to 32 bytes. libsodium has no SHA-512/256 of its own, and
// taking it from OpenSSL would load OpenSSL at every mint (issue #10).
std::array<std::uint8_t, 32> sha512_256(ByteView data);

// CRC-16/XMODEM: polynomial 0x1021, initial 0, not reflected.
std::uint16_t crc16_xmodem(ByteView data);

}  // namespace leaf
