// libFuzzer: the credentials endpoint's body interpreter. A first line starting with '/' is the
// JSON pointer; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/error.hpp"
#include "agent/sources/http_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string pointer;
  size_t body_at = 0;
  if (!in.empty() && in[0] == '/') {
    const auto nl = in.find('\n');
    pointer = in.substr(0, nl);
    body_at = nl == std::string::npos ? in.size() : nl + 1;
  }
  const leaf::SecretString body(in.begin() + static_cast<std::ptrdiff_t>(body_at), in.end());
  try {
    leaf::http_source::Request req;
    req.url = "https://vault.example/v1/x";
    req.json_pointer = pointer;
    leaf::http_source::check(req);  // what config validation guarantees before a fetch
    (void)leaf::http_source::interpret_body(body, pointer);
  } catch (const leaf::Error&) {
  }
  return 0;
}
