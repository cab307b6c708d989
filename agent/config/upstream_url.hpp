// The upstream URL grammar: tls:// or wss://, no user information, a conservative character set
// (nothing that could close a string or block in the nats-server config). Pure.
#pragma once

#include <string>
#include <string_view>

namespace leaf::config {

// A parsed upstream URL. `scheme` is "tls" or "wss" (lower case); `host` is a DNS name, an IPv4
// literal or an IPv6 literal without its brackets ("::1"); `port` is 1..65535.
struct Endpoint {
  std::string scheme;
  std::string host;
  int port = 0;
};

// Parses "tls://host[:port]" or "wss://host[:port][/path]". IPv6 literals go in brackets
// ("tls://[::1]:7422"); the default port is 7422 for tls:// and 443 for wss://. A tls:// URL takes
// no path (a lone trailing "/" is tolerated). The scheme is case-insensitive.
// Throws leaf::config_error with a one-line reason for: another scheme ("upstream URL nats://h:7422
// is plaintext; use tls://"), user information ("upstream URL must not carry a user or password;
// credentials come from the .creds file" -- the URL is not echoed then), characters outside a
// conservative URL set (quotes, braces, backslash, whitespace, control and non-ASCII bytes), a
// missing or malformed host, and a port that is empty, not a number or outside 1..65535.
Endpoint parse_upstream_url(const std::string& url);

// The URL with any user information replaced by "REDACTED" (for messages).
std::string redact_url(const std::string& url);

// "TLS" -> "tls"; IP literals as inet_pton reads them (IPv6 without brackets).
std::string lower_ascii(std::string s);
bool is_ipv4(const std::string& host);
bool is_ipv6(const std::string& host);

// Printable ASCII as is, anything else as \xNN: safe inside a one-line message.
std::string printable(std::string_view s);

}  // namespace leaf::config
