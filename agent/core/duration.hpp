// Durations as people write them in flags and config ("90s", "15m", "1h30m", "7d") and as the
// agent prints them ("3m ago", "in 59m58s"). Pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace leaf {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// The longest duration parse_duration accepts: 100 years, far from any overflow.
constexpr std::int64_t kMaxDurationMs = 100LL * 365 * 86'400'000;

// Accepts one or more <integer><unit> groups, unit in ms, s, m, h, d. A bare "0" is zero.
// Returns nullopt for anything else, and for a total beyond kMaxDurationMs (the caller names the
// flag or key in its error).
std::optional<Millis> parse_duration(std::string_view text);

// Compact human form of a non-negative span: "45s", "3m", "1h5m", "2d3h". Drops the
// smaller unit past the second-largest, which is enough to read an expiry at a glance.
std::string format_duration(Seconds span);

// A duration as nats-server's config reads it (Go's time.ParseDuration): "5s" when whole seconds,
// else "1500ms".
std::string format_go_duration(Millis d);

// RFC 3339 UTC: 2026-11-22T16:17:00Z.
std::string format_utc(std::int64_t unix_seconds);

}  // namespace leaf

namespace leaf {
// The wall clock in unix seconds: the one place effects read it, so pure code takes `now`.
std::int64_t unix_now();
}  // namespace leaf
