#include "agent/core/duration.hpp"

#include <cctype>
#include <ctime>

namespace leaf {

std::optional<Millis> parse_duration(std::string_view text) {
  if (text == "0") return Millis(0);
  if (text.empty()) return std::nullopt;
  std::int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    std::int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i++] - '0');
      if (n > kMaxDurationMs) return std::nullopt;
    }
    std::string_view unit;
    const size_t start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    unit = text.substr(start, i - start);
    std::int64_t scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else return std::nullopt;
    if (n > (kMaxDurationMs - total_ms) / scale) return std::nullopt;  // no overflow, ever
    total_ms += n * scale;
  }
  return Millis(total_ms);
}

std::string format_go_duration(Millis d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

std::string format_duration(Seconds span) {
  std::int64_t s = span.count();
  if (s < 0) s = -s;
  struct Unit { std::int64_t size; const char* name; };
  static constexpr Unit units[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out;
  int shown = 0;
  for (const auto& u : units) {
    if (shown == 2) break;
    const std::int64_t n = s / u.size;
    if (n > 0 || (shown == 0 && u.size == 1)) {
      out += std::to_string(n) + u.name;
      s -= n * u.size;
      ++shown;
    } else if (shown == 1) {
      break;  // "1h" rather than "1h0m"... and never skip a unit: "1d5s" would mislead
    }
  }
  return out;
}

std::string format_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace leaf

namespace leaf {
std::int64_t unix_now() {
  return std::chrono::duration_cast<Seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace leaf
