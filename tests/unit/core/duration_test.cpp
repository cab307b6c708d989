#include <doctest/doctest.h>

#include "agent/core/duration.hpp"

using namespace leaf;

TEST_CASE("duration: parse the forms people write") {
  CHECK(parse_duration("90s") == Millis(90'000));
  CHECK(parse_duration("15m") == Millis(900'000));
  CHECK(parse_duration("1h") == Millis(3'600'000));
  CHECK(parse_duration("7d") == Millis(7 * 86'400'000LL));
  CHECK(parse_duration("1h30m") == Millis(5'400'000));
  CHECK(parse_duration("250ms") == Millis(250));
  CHECK(parse_duration("0") == Millis(0));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("10"));
  CHECK_FALSE(parse_duration("1w"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("1.5h"));
}

TEST_CASE("duration: format is compact and never misleading") {
  CHECK(format_duration(Seconds(0)) == "0s");
  CHECK(format_duration(Seconds(45)) == "45s");
  CHECK(format_duration(Seconds(180)) == "3m");
  CHECK(format_duration(Seconds(3725)) == "1h2m");
  CHECK(format_duration(Seconds(3600)) == "1h");
  CHECK(format_duration(Seconds(86400 + 5)) == "1d");
  CHECK(format_duration(Seconds(2 * 86400 + 3 * 3600 + 60)) == "2d3h");
  CHECK(format_utc(0) == "1970-01-01T00:00:00Z");
}

TEST_CASE("duration: huge values are refused, never overflowed") {
  CHECK_FALSE(parse_duration("200000000d"));
  CHECK_FALSE(parse_duration("9223372036854775807ms"));
  CHECK_FALSE(parse_duration("99999999999999999999999s"));
  CHECK_FALSE(parse_duration("36500d36500d"));  // each fine, the sum past the cap
  CHECK(parse_duration("36500d") == Millis(36500LL * 86'400'000));
  CHECK(parse_duration("200000d") == std::nullopt);  // past 100 years
  CHECK(parse_duration("36499d") == Millis(36499LL * 86'400'000));
}
