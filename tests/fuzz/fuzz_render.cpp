// libFuzzer: template rendering and the local-only check of the result. The input is a template,
// optionally followed by a line "%%" and a value put into every string setting it can reach.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/config/nats_conf.hpp"
#include "agent/config/render.hpp"
#include "agent/core/error.hpp"
#include "agent/core/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const auto split = in.find("\n%%\n");
  const std::string tmpl = in.substr(0, split);
  leaf::config::Config c;
  c.upstream.urls = {"tls://hub:7422"};
  if (split != std::string::npos) {
    const std::string v = in.substr(split + 4);
    c.upstream.ca_file = c.upstream.cert_file = c.upstream.key_file = v;
    c.upstream.jetstream_domain = v;
    c.agent.state_dir = v.empty() ? "/s" : v;
  }
  try {
    (void)leaf::render::nats_config(c, tmpl, "fuzz.tmpl", "leaf-fuzz");
  } catch (const leaf::Error&) {
  }
  try {
    (void)leaf::config::parse_nats_conf(tmpl);
  } catch (const leaf::Error&) {
  }
  (void)leaf::text::one_line(in, 200);
  return 0;
}
