// Structural PEM checks without OpenSSL: `run` judges its TLS files with these, so that its
// start never loads OpenSSL (issue #10); nats-server, which reads the same files, then judges
// their contents, and `init` parses them fully (agent/preflight/pki.hpp). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace leaf::pem {

// "" when `text` holds at least one CERTIFICATE block and every CERTIFICATE block is base64 of
// a DER SEQUENCE; otherwise the problem, worded as pki::check_ca_file words it
// ("no PEM certificate found", "malformed PEM certificate (...)").
std::string certificates_problem(std::string_view text);

// "" when the first private key block in `text` (the one nats-server uses) is an unencrypted
// PKCS#8 "PRIVATE KEY", "RSA PRIVATE KEY" or "EC PRIVATE KEY" whose body is base64 of a DER
// SEQUENCE; otherwise the problem. Decoded key bytes are wiped before return.
std::string private_key_problem(std::string_view text);

}  // namespace leaf::pem
