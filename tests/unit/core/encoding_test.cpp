#include <doctest/doctest.h>

#include "agent/core/encoding.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

using namespace leaf;

TEST_CASE("encoding: CRC-16/XMODEM of 123456789 is 0x31C3") {
  CHECK(crc16_xmodem(as_bytes("123456789")) == 0x31C3);
  CHECK(crc16_xmodem(as_bytes("")) == 0);
}

TEST_CASE("encoding: base32 matches RFC 4648 vectors without padding") {
  CHECK(base32_encode(as_bytes("")) == "");
  CHECK(base32_encode(as_bytes("f")) == "MY");
  CHECK(base32_encode(as_bytes("fo")) == "MZXQ");
  CHECK(base32_encode(as_bytes("foobar")) == "MZXW6YTBOI");
  Bytes out;
  REQUIRE(base32_decode("MZXW6YTBOI", out));
  CHECK(std::string(out.begin(), out.end()) == "foobar");
  CHECK_FALSE(base32_decode("MZXW6YTBO1", out));  // '1' is not in the alphabet
  CHECK_FALSE(base32_decode("mzxw", out));        // lower case is not nkeys' alphabet
  CHECK(base32_decode("MY", out));  // "f"
  CHECK_FALSE(base32_decode("MZ7", out));         // leftover non-zero bits: truncated input
}

TEST_CASE("encoding: base64url round trip, no padding, URL alphabet") {
  const std::string text = "\xfb\xff\xfe binary?";
  const std::string enc = base64url_encode(as_bytes(text));
  CHECK(enc.find('=') == std::string::npos);
  CHECK(enc.find('+') == std::string::npos);
  CHECK(enc.find('/') == std::string::npos);
  auto dec = base64url_decode(enc);
  REQUIRE(dec);
  CHECK(std::string(dec->begin(), dec->end()) == text);
  CHECK(base64url_decode(enc + "==").has_value());  // padding tolerated on input
  CHECK_FALSE(base64url_decode("ab$d").has_value());
}

namespace {
std::string hex(const std::array<std::uint8_t, 32>& d) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : d) s += {digits[b >> 4], digits[b & 15]};
  return s;
}
}  // namespace

TEST_CASE("encoding: SHA-512/256 matches FIPS 180-4 and OpenSSL at every block boundary") {
  // FIPS 180-4 examples (csrc.nist.gov, SHA512_256.pdf).
  CHECK(hex(sha512_256(as_bytes("abc"))) == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23");
  CHECK(hex(sha512_256(as_bytes("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))) ==
        "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a");
  for (std::size_t n : {0, 1, 55, 111, 112, 127, 128, 129, 255, 256, 1000}) {
    std::string text(n, '\0');
    for (std::size_t i = 0; i < n; ++i) text[i] = static_cast<char>(i * 7 + 3);
    unsigned char ref[32];
    unsigned int len = 0;
    REQUIRE(EVP_Digest(text.data(), text.size(), ref, &len, EVP_sha512_256(), nullptr) == 1);
    std::array<std::uint8_t, 32> want{};
    std::copy(ref, ref + 32, want.begin());
    CHECK_MESSAGE(sha512_256(as_bytes(text)) == want, "length " << n);
  }
}
