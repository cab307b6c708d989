// libFuzzer: duration parsing and formatting.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/core/duration.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto d = leaf::parse_duration(text)) {
    if (d->count() < 0 || d->count() > leaf::kMaxDurationMs) __builtin_trap();
    (void)leaf::format_duration(std::chrono::duration_cast<leaf::Seconds>(*d));
  }
  return 0;
}
