// libFuzzer: configuration load. The input is TOML, optionally followed by a line "%%" and
// NAME=VALUE environment lines (LEAF_AGENT_...).
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto split = in.find("\n%%\n");
  const std::string toml = in.substr(0, split);
  leaf::config::Environment env;
  if (split != std::string::npos) {
    size_t p = split + 4;
    while (p < in.size()) {
      size_t nl = in.find('\n', p);
      if (nl == std::string::npos) nl = in.size();
      const std::string line = in.substr(p, nl - p);
      const auto eq = line.find('=');
      if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
      p = nl + 1;
    }
  }
  for (bool probe : {false, true}) {
    try {
      const auto c = leaf::config::load(toml, "fuzz.toml", env, {}, probe);
      (void)leaf::config::to_json(c).dump();
      (void)leaf::config::server_name(c, "leaf-fuzz");
    } catch (const leaf::Error&) {
    }
  }
  return 0;
}
