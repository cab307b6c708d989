// libFuzzer: the structural PEM checks `run` makes of its TLS files (agent/core/pem.hpp). Any
// bytes: an answer, never a crash, and a certificate verdict never quotes the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/core/pem.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const std::string cert = leaf::pem::certificates_problem(in);
  const std::string key = leaf::pem::private_key_problem(in);
  // The verdicts are fixed texts (a key's block label cut at 40): never the input at length.
  if (cert.size() > 120 || key.size() > 160) std::abort();
  return 0;
}
