#include <doctest/doctest.h>

#include "agent/core/text.hpp"

using leaf::text::one_line;

TEST_CASE("text: one_line keeps text readable and defuses bytes and escape sequences") {
  CHECK(one_line("plain message") == "plain message");
  CHECK(one_line("first\nsecond\r\n\tthird  ") == "first second third");
  CHECK(one_line("\x1b[31mred\x1b[0m") == "\\x1b[31mred\\x1b[0m");
  CHECK(one_line("bad \xff byte") == "bad \\xff byte");
  CHECK(one_line(std::string("nul\0here", 8)) == "nul\\x00here");
  CHECK(one_line("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93");   // UTF-8 stays
  CHECK(one_line("\xc2\x9b" "2J") == "\\xc2\\x9b2J");                          // C1 CSI does not
  CHECK(one_line("\xc0\xaf overlong") == "\\xc0\\xaf overlong");
  CHECK(one_line("\xe2\x9c") == "\\xe2\\x9c");                                 // truncated sequence
  CHECK(one_line("\x7f") == "\\x7f");
  const std::string cut = one_line(std::string(5000, 'a'), 100);
  CHECK(cut == std::string(100, 'a') + "...");
  CHECK(one_line("\xe2\x9c\x93\xe2\x9c\x93", 4) == "\xe2\x9c\x93...");  // never half a character
}

TEST_CASE("text: valid_utf8") {
  CHECK(leaf::text::valid_utf8("plain\tascii\n"));
  CHECK(leaf::text::valid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80 \xc2\x85"));
  CHECK_FALSE(leaf::text::valid_utf8("\xff"));
  CHECK_FALSE(leaf::text::valid_utf8("\xc0\xaf"));
  CHECK_FALSE(leaf::text::valid_utf8("\xed\xa0\x80"));  // a surrogate
  CHECK_FALSE(leaf::text::valid_utf8("\xe2\x9c"));
}
