// leaf::preflight::parse_upstream_url: pure parsing, no network.
#include "agent/preflight/preflight.hpp"

#include "agent/core/error.hpp"

#include <doctest/doctest.h>

#include <string>

using leaf::preflight::Endpoint;
using leaf::preflight::parse_upstream_url;

namespace {

// The config_error message parse_upstream_url throws for `url` ("" if it accepted it).
std::string refusal(const std::string& url) {
  try {
    (void)parse_upstream_url(url);
  } catch (const leaf::Error& e) {
    CHECK(e.code() == leaf::Exit::config);
    const std::string m = e.what();
    CHECK(m.find('\n') == std::string::npos);  // one line, whatever the URL held
    CHECK(m.find('\r') == std::string::npos);
    return m;
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("preflight: tls:// and wss:// URLs parse into scheme, host and port") {
  Endpoint e = parse_upstream_url("tls://hub-a:7422");
  CHECK(e.scheme == "tls");
  CHECK(e.host == "hub-a");
  CHECK(e.port == 7422);

  e = parse_upstream_url("tls://[::1]:7422");
  CHECK(e.scheme == "tls");
  CHECK(e.host == "::1");
  CHECK(e.port == 7422);

  e = parse_upstream_url("wss://h/leafnode");
  CHECK(e.scheme == "wss");
  CHECK(e.host == "h");
  CHECK(e.port == 443);

  e = parse_upstream_url("tls://hub.example.com");
  CHECK(e.host == "hub.example.com");
  CHECK(e.port == 7422);

  e = parse_upstream_url("wss://10.0.0.5:8443/leaf?x=1");
  CHECK(e.host == "10.0.0.5");
  CHECK(e.port == 8443);

  e = parse_upstream_url("TLS://127.0.0.1:65535/");
  CHECK(e.scheme == "tls");
  CHECK(e.host == "127.0.0.1");
  CHECK(e.port == 65535);

  e = parse_upstream_url("wss://[2001:db8::7]");
  CHECK(e.host == "2001:db8::7");
  CHECK(e.port == 443);
}

TEST_CASE("preflight: plaintext and unknown schemes are refused with the fix") {
  CHECK(refusal("nats://h:7422") == "upstream URL nats://h:7422 is plaintext; use tls://");
  CHECK(refusal("ws://h/leafnode") == "upstream URL ws://h/leafnode is plaintext; use wss://");
  CHECK(refusal("https://h:443") == "upstream URL https://h:443 has unsupported scheme 'https'; use tls:// or wss://");
  CHECK(contains(refusal("hub-a:7422"), "has no scheme"));
  CHECK(contains(refusal(""), "upstream URL is empty"));
}

TEST_CASE("preflight: user information is refused without echoing the password") {
  const std::string userinfo = "upstream URL must not carry a user or password; credentials come from the .creds file";
  CHECK(refusal("tls://user:pass@h:7422") == userinfo);
  CHECK(refusal("tls://u@h:7422") == userinfo);
  CHECK(refusal("wss://user:s3cret@h/leafnode") == userinfo);
  CHECK(refusal("nats://user:pass@h:7422") == userinfo);  // the password is the worse problem
  CHECK(refusal("tls://user:pa\"ss@h:7422") == userinfo);  // even with odd characters in it
  // '@' in a wss path is not user information.
  CHECK(parse_upstream_url("wss://h/leaf@node").host == "h");
}

TEST_CASE("preflight: characters outside the URL set are refused") {
  const std::string quote = refusal("tls://hub\"a:7422");
  CHECK(contains(quote, "contains a character not allowed in a URL: '\"' at position 10"));
  CHECK(contains(refusal("tls://hub-a:7422}"), "not allowed in a URL: '}'"));
  CHECK(contains(refusal("tls://{hub-a}:7422"), "not allowed in a URL: '{'"));
  CHECK(contains(refusal("tls://hub-a:7422\n"), "not allowed in a URL: a newline"));
  CHECK(contains(refusal("tls://hub-a:7422\nlisten: 0.0.0.0:4222"), "upstream URL tls://hub-a:7422\\x0alisten"));
  CHECK(contains(refusal("tls://hub a:7422"), "not allowed in a URL: a space"));
  CHECK(contains(refusal("tls://hub-a:7422\t"), "not allowed in a URL: a tab"));
  CHECK(contains(refusal("tls://hub\\a:7422"), "not allowed in a URL: '\\'"));
  CHECK(contains(refusal("tls://hub'a:7422"), "not allowed in a URL: '''"));
  CHECK(contains(refusal(std::string("tls://hub\x01" "a:7422")), "control character 0x01"));
  CHECK(contains(refusal("tls://h\xc3\xa9:7422"), "non-ASCII byte 0xc3"));
}

TEST_CASE("preflight: a missing or malformed host is refused") {
  CHECK(refusal("tls://:7422") == "upstream URL tls://:7422 has no host");
  CHECK(refusal("tls://") == "upstream URL tls:// has no host");
  CHECK(refusal("wss:///leafnode") == "upstream URL wss:///leafnode has no host");
  CHECK(refusal("tls://[]:7422") == "upstream URL tls://[]:7422 has no host");
  CHECK(contains(refusal("tls://::1:7422"), "an IPv6 address must be written in brackets"));
  CHECK(contains(refusal("tls://[::1:7422"), "unterminated IPv6 address"));
  CHECK(contains(refusal("tls://[hub-a]:7422"), "invalid IPv6 address '[hub-a]'"));
  CHECK(contains(refusal("tls://[::1]x:7422"), "unexpected text after the IPv6 address"));
  CHECK(contains(refusal("tls://hub..a:7422"), "invalid host name 'hub..a'"));
  CHECK(contains(refusal("tls://hub!a:7422"), "invalid host name 'hub!a'"));
}

TEST_CASE("preflight: a bad port is refused") {
  CHECK(refusal("tls://h:0") == "upstream URL tls://h:0 has a bad port '0' (expected 1-65535)");
  CHECK(refusal("tls://h:70000") == "upstream URL tls://h:70000 has a bad port '70000' (expected 1-65535)");
  CHECK(refusal("tls://h:abc") == "upstream URL tls://h:abc has a bad port 'abc' (expected 1-65535)");
  CHECK(contains(refusal("tls://h:"), "has a bad port ''"));
  CHECK(contains(refusal("tls://h:-1"), "has a bad port '-1'"));
  CHECK(contains(refusal("tls://h:99999999999999999999"), "has a bad port"));
  CHECK(contains(refusal("tls://[::1]:0"), "has a bad port '0'"));
  CHECK(contains(refusal("wss://h:65536/leafnode"), "has a bad port '65536'"));
}

TEST_CASE("preflight: a tls:// URL takes no path") {
  CHECK(contains(refusal("tls://h:7422/leafnode"), "a tls:// URL takes no path"));
  CHECK(contains(refusal("tls://h:7422?x=1"), "a tls:// URL takes no path"));
  CHECK(parse_upstream_url("tls://h:7422/").port == 7422);
}
