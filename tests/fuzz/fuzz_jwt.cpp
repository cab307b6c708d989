// libFuzzer: JWT decode, signature verification, issuer and time checks.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/core/error.hpp"
#include "agent/core/jwt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const leaf::jwt::Token t = leaf::jwt::decode(text);
    (void)leaf::jwt::signature_verifies(t);
    (void)leaf::jwt::issuer_problem(t);
    (void)leaf::jwt::time_problem(t, 1'800'000'000);
    (void)t.type(), (void)t.subject(), (void)t.issuer(), (void)t.account(), (void)t.expires();
    (void)t.allowed_connection_types();
    leaf::jwt::validate(t, 1'800'000'000);
  } catch (const leaf::Error&) {
  }
  return 0;
}
