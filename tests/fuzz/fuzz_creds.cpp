// libFuzzer: .creds parsing, `creds inspect` and validation of whatever parses.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/core/creds.hpp"
#include "agent/core/error.hpp"
#include "agent/core/inspect.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const leaf::creds::Creds c = leaf::creds::parse(text);
    (void)leaf::creds::format(c.jwt, std::string_view(c.seed.data(), c.seed.size()));
    (void)leaf::creds::validate(c, 1'800'000'000);
  } catch (const leaf::Error&) {
  }
  const auto report = leaf::inspect::inspect(text, 1'800'000'000);
  (void)leaf::inspect::to_text(report);
  (void)leaf::inspect::to_json(report).dump();
  return 0;
}
