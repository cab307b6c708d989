#include <doctest/doctest.h>

#include "agent/core/encoding.hpp"

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
