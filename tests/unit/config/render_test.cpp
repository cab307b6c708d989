#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"
#include "agent/config/render.hpp"

using namespace leaf;

namespace {
config::Config leaf_config() {
  config::Config c;
  c.upstream.urls = {"tls://hub-a:7422", "wss://hub-b:443/leaf"};
  c.upstream.ca_file = "/etc/leaf/ca.pem";
  c.agent.state_dir = "/run/leaf-agent/";
  return c;
}

std::string render_leaf(const config::Config& c) {
  return render::nats_config(c, render::builtin_template(c), "builtin", "leaf-test");
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("render: the leaf config listens on loopback and has one TLS remote with every URL") {
  const std::string out = render_leaf(leaf_config());
  CHECK(out.find("listen: \"127.0.0.1:4222\"") != std::string::npos);
  CHECK(out.find("http: \"127.0.0.1:8222\"") != std::string::npos);
  CHECK(out.find("urls: [\"tls://hub-a:7422\", \"wss://hub-b:443/leaf\"]") != std::string::npos);
  CHECK(out.find("credentials: \"/run/leaf-agent/upstream.creds\"") != std::string::npos);
  CHECK(out.find("ca_file: \"/etc/leaf/ca.pem\"") != std::string::npos);
  CHECK(count(out, "remotes") == 1);
  CHECK(count(out, "tls {") == 1);
  CHECK(out.find("cert_file") == std::string::npos);  // only when configured
  CHECK(out.find("handshake_first") == std::string::npos);
  CHECK(out.find("cluster") == std::string::npos);
  CHECK(out.find("gateway") == std::string::npos);
  CHECK(out.find("port: ") == std::string::npos);  // no leafnode listener
}

TEST_CASE("render: optional TLS settings appear only when asked for, and localhost becomes 127.0.0.1") {
  config::Config c = leaf_config();
  c.upstream.cert_file = "/c.pem";
  c.upstream.key_file = "/k.pem";
  c.upstream.handshake_first = true;
  c.local.listen = "localhost:4333";
  const std::string out = render_leaf(c);
  CHECK(out.find("cert_file: \"/c.pem\"") != std::string::npos);
  CHECK(out.find("key_file: \"/k.pem\"") != std::string::npos);
  CHECK(out.find("handshake_first: true") != std::string::npos);
  CHECK(out.find("listen: \"127.0.0.1:4333\"") != std::string::npos);
}

TEST_CASE("render: values are escaped, so none can close a string or a block") {
  CHECK(render::escape_nats_string(R"(a"b\c})") == R"(a\"b\\c})");
  CHECK_THROWS_AS(render::escape_nats_string("a\nlisten: 0.0.0.0:4222"), Error);
  config::Config c = leaf_config();
  c.upstream.ca_file = "/etc/we\"ird}/ca.pem";
  const std::string out = render_leaf(c);
  CHECK(out.find(R"(ca_file: "/etc/we\"ird}/ca.pem")") != std::string::npos);
  c.upstream.ca_file = "/etc/ca.pem\"\n}\nlisten: \"0.0.0.0:4222";
  CHECK_THROWS_AS(render_leaf(c), Error);
}

TEST_CASE("render: the output passes nats-server -t, even with awkward paths") {
  char dir[] = "/tmp/leaf-render.XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string ca = std::string(dir) + "/we\"ird }dir";
  config::Config c = leaf_config();
  c.upstream.urls = {"tls://127.0.0.1:7422"};
  c.upstream.ca_file = "";  // a CA file that does not exist would fail -t for another reason
  c.agent.state_dir = ca;
  const std::string out = render_leaf(c);
  const std::string path = std::string(dir) + "/nats.conf";
  std::ofstream(path) << out;
  const std::string cmd = "nats-server -t -c '" + path + "' >/dev/null 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  // The dev template too.
  c.agent.mode = "dev";
  config::parse(c);
  std::ofstream(path) << render::nats_config(c, render::builtin_template(c), "dev", "leaf-test");
  CHECK(std::system(cmd.c_str()) == 0);
  std::system(("rm -rf '" + std::string(dir) + "'").c_str());
}

TEST_CASE("render: a broken template is a config error naming it") {
  CHECK_THROWS_WITH_AS(render::render("{{#open}} never closed", {}, "custom.tmpl"),
                       doctest::Contains("template custom.tmpl"), Error);
}

TEST_CASE("render: pings for a silently dead hub: ping_interval and ping_max from the upstream section") {
  config::Config c = leaf_config();
  CHECK(render_leaf(c).find("ping_interval: \"20s\"\nping_max: 3\n") != std::string::npos);
  c.upstream.ping_interval = "1m30s";
  c.upstream.ping_max = "5";
  CHECK(render_leaf(c).find("ping_interval: \"90s\"\nping_max: 5\n") != std::string::npos);
}
