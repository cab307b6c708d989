// libFuzzer: the upstream URL grammar. An accepted URL must hold nothing that could close a
// string or a block in the nats-server config it is written into.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config/upstream_url.hpp"
#include "agent/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  (void)leaf::config::redact_url(url);
  (void)leaf::config::printable(url);
  try {
    const auto ep = leaf::config::parse_upstream_url(url);
    if (url.find_first_of("\"'{}\\ \n\r\t") != std::string::npos) __builtin_trap();
    if (ep.port < 1 || ep.port > 65535 || ep.host.empty()) __builtin_trap();
  } catch (const leaf::Error&) {
  }
  return 0;
}
