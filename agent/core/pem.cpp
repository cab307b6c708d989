#include "agent/core/pem.hpp"

#include <sodium.h>

#include <vector>

namespace leaf::pem {

namespace {

struct Block {
  std::string_view label;
  std::string_view body;  // between the BEGIN and END lines
};

// The next "-----BEGIN <label>-----" ... "-----END <label>-----" block from `pos`; a BEGIN
// without its END yields a block with `complete` false.
struct Scan {
  Block block;
  bool found = false;
  bool complete = false;
};

Scan next_block(std::string_view text, std::size_t& pos) {
  static constexpr std::string_view kBegin = "-----BEGIN ", kDashes = "-----", kEnd = "-----END ";
  Scan s;
  const std::size_t b = text.find(kBegin, pos);
  if (b == std::string_view::npos) {
    pos = text.size();
    return s;
  }
  s.found = true;
  const std::size_t label_at = b + kBegin.size();
  const std::size_t label_end = text.find(kDashes, label_at);
  const std::size_t eol = text.find('\n', label_at);
  if (label_end == std::string_view::npos || (eol != std::string_view::npos && eol < label_end)) {
    pos = label_at;
    return s;
  }
  s.block.label = text.substr(label_at, label_end - label_at);
  const std::size_t body_at = label_end + kDashes.size();
  const std::string end_line = std::string(kEnd) + std::string(s.block.label) + std::string(kDashes);
  const std::size_t e = text.find(end_line, body_at);
  if (e == std::string_view::npos) {
    pos = text.size();
    return s;
  }
  s.block.body = text.substr(body_at, e - body_at);
  s.complete = true;
  pos = e + end_line.size();
  return s;
}

// Decodes a block body into `der` (cleared first); false unless it is base64 (line breaks and
// spaces allowed) of something that starts as a DER SEQUENCE does.
bool decode_der(std::string_view body, std::vector<unsigned char>& der) {
  der.assign(body.size() * 3 / 4 + 3, 0);
  std::size_t len = 0;
  const char* end = nullptr;
  const int rc = sodium_base642bin(der.data(), der.size(), body.data(), body.size(), " \t\r\n", &len, &end,
                                   sodium_base64_VARIANT_ORIGINAL);
  const bool ok = rc == 0 && end == body.data() + body.size() && len >= 2 && der[0] == 0x30;
  if (!ok) sodium_memzero(der.data(), der.size());  // whatever part of a key was decoded
  der.resize(ok ? len : 0);
  return ok;
}

void wipe(std::vector<unsigned char>& v) {
  if (!v.empty()) sodium_memzero(v.data(), v.size());
  v.clear();
}

}  // namespace

std::string certificates_problem(std::string_view text) {
  std::vector<unsigned char> der;
  int count = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const Scan s = next_block(text, pos);
    if (!s.found) break;
    if (!s.complete) return "malformed PEM certificate (a BEGIN line without its END line)";
    if (s.block.label != "CERTIFICATE") continue;
    if (!decode_der(s.block.body, der)) return "malformed PEM certificate (certificate " + std::to_string(count + 1) + " is not base64 DER)";
    ++count;
  }
  return count > 0 ? "" : "no PEM certificate found";
}

std::string private_key_problem(std::string_view text) {
  // As Go's tls.X509KeyPair (nats-server) reads it: the first block labelled "PRIVATE KEY" or
  // "... PRIVATE KEY" is the key, whatever follows.
  std::vector<unsigned char> der;
  for (std::size_t pos = 0; pos < text.size();) {
    const Scan s = next_block(text, pos);
    if (!s.found) break;
    if (!s.complete) return "no usable unencrypted PEM private key (a BEGIN line without its END line)";
    const std::string_view l = s.block.label;
    if (l != "PRIVATE KEY" && !(l.size() > 12 && l.substr(l.size() - 12) == " PRIVATE KEY")) continue;
    if (l == "ENCRYPTED PRIVATE KEY" || s.block.body.find("Proc-Type:") != std::string_view::npos) {
      return "no usable unencrypted PEM private key (the key is encrypted; nats-server needs it unencrypted)";
    }
    if (l != "PRIVATE KEY" && l != "RSA PRIVATE KEY" && l != "EC PRIVATE KEY") {
      return "no usable unencrypted PEM private key (a " + std::string(l.substr(0, 40)) +
             " block; nats-server reads PKCS#8, RSA or EC keys)";
    }
    const bool ok = decode_der(s.block.body, der);
    wipe(der);
    if (ok) return "";
    return "no usable unencrypted PEM private key (the " + std::string(l) + " block is not base64 DER)";  // l: one of three
  }
  return "no usable unencrypted PEM private key (no PRIVATE KEY block)";
}

}  // namespace leaf::pem
