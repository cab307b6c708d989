#include "agent/core/encoding.hpp"

#include <sodium.h>

#include <algorithm>

namespace leaf {

namespace {
constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}
}  // namespace

std::string base32_encode(ByteView data) {
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  unsigned buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : data) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

bool base32_decode(std::string_view text, std::vector<std::uint8_t>& out) {
  out.clear();
  out.reserve(text.size() * 5 / 8);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = base32_value(c);
    if (v < 0) return false;
    buffer = (buffer << 5) | static_cast<unsigned>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<std::uint8_t>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits must be padding zeros, else the text was truncated or altered.
  if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return false;
  buffer = 0;
  return true;
}

std::string base64url_encode(ByteView data) {
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), variant);
  out.resize(out.size() - 1);  // drop the NUL libsodium writes
  return out;
}

std::optional<Bytes> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  Bytes out(text.size() * 3 / 4 + 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::array<std::uint8_t, 32> sha512_256(ByteView data) {
  static constexpr std::uint64_t kInitial[8] = {0x22312194FC2BF72C, 0x9F555FA3C84C64C2, 0x2393B86B6F53B151,
                                                0x963877195940EABD, 0x96283EE2A88EFFE3, 0xBE5E1E2553863992,
                                                0x2B0199FC2C85B8AA, 0x0EB72DDC81C52CA2};
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  std::copy(std::begin(kInitial), std::end(kInitial), std::begin(st.state));
  crypto_hash_sha512_update(&st, data.data(), data.size());
  unsigned char full[crypto_hash_sha512_BYTES];
  crypto_hash_sha512_final(&st, full);
  std::array<std::uint8_t, 32> out{};
  std::copy(full, full + out.size(), out.begin());
  return out;
}

std::uint16_t crc16_xmodem(ByteView data) {
  std::uint16_t crc = 0;
  for (std::uint8_t byte : data) {
    crc ^= static_cast<std::uint16_t>(byte) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

}  // namespace leaf
