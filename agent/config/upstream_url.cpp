#include "agent/config/upstream_url.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "agent/core/error.hpp"

namespace leaf::config {
namespace {

// ---------------------------------------------------------------------------------------------
// URL parsing

constexpr const char* kUserInfo =
    "upstream URL must not carry a user or password; credentials come from the .creds file";

bool is_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 3986 unreserved + reserved + '%', minus the single quote: nothing that could close a quoted
// string or a block in the nats-server configuration the URL ends up in.
bool allowed_url_char(unsigned char c) {
  return is_alnum(c) || (c != 0 && std::strchr("-._~:/?#[]@!$&()*+,;=%", c) != nullptr);
}

std::string hex_byte(unsigned char c) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02x", c);
  return b;
}

}  // namespace

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

namespace {
std::string describe_char(unsigned char c) {
  if (c == ' ') return "a space";
  if (c == '\t') return "a tab";
  if (c == '\n') return "a newline";
  if (c == '\r') return "a carriage return";
  if (c < 0x20 || c == 0x7f) return "control character " + hex_byte(c);
  if (c >= 0x80) return "non-ASCII byte " + hex_byte(c);
  return std::string("'") + static_cast<char>(c) + "'";
}

// Letters, digits, '-' and '_' in non-empty dot-separated labels of at most 63 characters; one
// trailing dot (fully qualified) allowed; at most 253 characters.
bool valid_dns_name(const std::string& h) {
  std::string_view s = h;
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (unsigned char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (is_alnum(c) || c == '-' || c == '_') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

// [begin, end) of the authority (after "://" if any, up to the first '/', '?' or '#').
std::pair<size_t, size_t> authority_range(const std::string& url) {
  const size_t sep = url.find("://");
  const size_t begin = sep == std::string::npos ? 0 : sep + 3;
  size_t end = url.find_first_of("/?#", begin);
  if (end == std::string::npos) end = url.size();
  return {begin, end};
}

// The URL with any user information replaced, for Probe::url.
std::string redact_url_impl(const std::string& url) {
  const auto [begin, end] = authority_range(url);
  const size_t at = url.substr(begin, end - begin).rfind('@');
  if (at == std::string::npos) return url;
  return url.substr(0, begin) + "REDACTED" + url.substr(begin + at);
}
}  // namespace

std::string redact_url(const std::string& url) { return redact_url_impl(url); }

std::string lower_ascii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool is_ipv4(const std::string& h) {
  in_addr a{};
  return inet_pton(AF_INET, h.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& h) {
  in6_addr a{};
  return inet_pton(AF_INET6, h.c_str(), &a) == 1;
}


Endpoint parse_upstream_url(const std::string& url) {
  if (url.empty()) throw config_error("upstream URL is empty; expected tls://host:port or wss://host[:port]/path");
  const auto [auth_begin, auth_end] = authority_range(url);
  const std::string authority = url.substr(auth_begin, auth_end - auth_begin);
  // First, before the URL is echoed anywhere: it may hold a password.
  if (authority.find('@') != std::string::npos) throw config_error(kUserInfo);

  for (size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (!allowed_url_char(c)) {
      throw config_error("upstream URL " + printable(url) + " contains a character not allowed in a URL: " +
                         describe_char(c) + " at position " + std::to_string(i + 1));
    }
  }
  const std::string what = "upstream URL " + url;

  const size_t sep = url.find("://");
  if (sep == std::string::npos) throw config_error(what + " has no scheme; use tls://host:port or wss://host[:port]/path");
  const std::string scheme = lower_ascii(url.substr(0, sep));
  if (scheme == "nats") throw config_error(what + " is plaintext; use tls://");
  if (scheme == "ws") throw config_error(what + " is plaintext; use wss://");
  if (scheme != "tls" && scheme != "wss") {
    throw config_error(what + " has unsupported scheme '" + scheme + "'; use tls:// or wss://");
  }
  const std::string rest = url.substr(auth_end);
  if (scheme == "tls" && !rest.empty() && rest != "/") {
    throw config_error(what + ": a tls:// URL takes no path, query or fragment");
  }

  Endpoint ep;
  ep.scheme = scheme;
  std::string port;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) throw config_error(what + " has an unterminated IPv6 address (missing ']')");
    ep.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw config_error(what + " has unexpected text after the IPv6 address: '" + after + "'");
      port = after.substr(1);
      has_port = true;
    }
    if (ep.host.empty()) throw config_error(what + " has no host");
    if (!is_ipv6(ep.host)) throw config_error(what + " has an invalid IPv6 address '[" + ep.host + "]'");
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string::npos && authority.find(':', colon + 1) != std::string::npos) {
      throw config_error(what + ": an IPv6 address must be written in brackets, e.g. tls://[::1]:7422");
    }
    ep.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (ep.host.empty()) throw config_error(what + " has no host");
    if (!is_ipv4(ep.host) && !valid_dns_name(ep.host)) throw config_error(what + " has an invalid host name '" + ep.host + "'");
  }

  if (!has_port) {
    ep.port = scheme == "tls" ? 7422 : 443;
    return ep;
  }
  long value = 0;
  bool ok = !port.empty();
  for (char c : port) {
    ok = ok && c >= '0' && c <= '9';
    if (!ok) break;
    value = value * 10 + (c - '0');
    if (value > 65535) ok = false;
  }
  if (!ok || value < 1) throw config_error(what + " has a bad port '" + port + "' (expected 1-65535)");
  ep.port = static_cast<int>(value);
  return ep;
}

}  // namespace leaf::config
