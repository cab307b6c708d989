// Hostile values in the configuration and templates (issue #8): each refused with one line.
#include <doctest/doctest.h>

#include "agent/config/config.hpp"
#include "agent/config/nats_conf.hpp"
#include "agent/config/render.hpp"
#include "agent/core/error.hpp"
#include "error_of.hpp"

using namespace leaf;

namespace {
const char* kBase = R"(
[upstream]
urls = ["tls://hub-a:7422"]
[credentials]
file = "/run/leaf.creds"
)";

std::string load_error(config::Overrides o) {
  return error_of([&] { config::load(kBase, "x", {}, o); });
}

config::Config leaf_config() {
  config::Config c;
  c.upstream.urls = {"tls://hub-a:7422"};
  c.agent.state_dir = "/run/leaf-agent";
  return c;
}

std::string render_error(const std::string& tmpl) {
  return error_of([&] { render::nats_config(leaf_config(), tmpl, "custom.tmpl", "leaf-test"); });
}
}  // namespace

TEST_CASE("config: durations beyond a sane maximum, and zero, are refused") {
  CHECK(load_error({{"agent.ready_timeout", "200000d"}}).find("agent.ready_timeout") == 0);
  CHECK(load_error({{"agent.ready_timeout", "200000d"}}).find("at most 1d") != std::string::npos);
  CHECK(load_error({{"agent.ready_timeout", "25h"}}).find("too long: at most 1d") != std::string::npos);
  CHECK(load_error({{"agent.ready_timeout", "0"}}) == "agent.ready_timeout must be more than 0 (e.g. 60s)");
  CHECK(load_error({{"agent.ready_timeout", "0s"}}) == "agent.ready_timeout must be more than 0 (e.g. 60s)");
  CHECK(load_error({{"agent.ready_timeout", "99999999999999999999d"}}).find("not a duration") != std::string::npos);
  CHECK(load_error({{"agent.ready_timeout", "24h"}}) == "");
  CHECK(load_error({{"credentials.min_lifetime", "0"}}) == "");  // "any unexpired credentials"
  CHECK(load_error({{"credentials.min_lifetime", "400d"}}).find("credentials.min_lifetime") == 0);
}

TEST_CASE("config: a state_dir that nats-server would expand is refused") {
  CHECK(load_error({{"agent.state_dir", "/tmp/$HOME/x"}}).find("contains '$'") != std::string::npos);
  CHECK(load_error({{"agent.state_dir", "/tmp/${HOME}"}}).find("contains '$'") != std::string::npos);
  CHECK(load_error({{"agent.state_dir", "~/leaf"}}).find("starts with '~'") != std::string::npos);
  CHECK(load_error({{"agent.state_dir", "/tmp/a\tb"}}).find("control character") != std::string::npos);
  CHECK(load_error({{"agent.state_dir", "/tmp/we\"ird }dir"}}) == "");
}

TEST_CASE("config: the upstream URL list is capped") {
  std::string many;
  for (int i = 0; i < 33; ++i) many += (many.empty() ? "" : ",") + std::string("tls://h") + std::to_string(i) + ":7422";
  CHECK(load_error({{"upstream.urls", many}}).find("upstream.urls has 33 URLs, more than 32") == 0);
  many = many.substr(0, many.rfind(','));
  CHECK(load_error({{"upstream.urls", many}}) == "");
}

TEST_CASE("config: upstream.server_name is refused with the way to verify a hub reached by IP") {
  const std::string e = load_error({{"upstream.server_name", "hub.example"}});
  CHECK(e.find("upstream.server_name is not supported") == 0);
  CHECK(e.find("put the hub's DNS name in the URL") != std::string::npos);
}

TEST_CASE("config: the server name is unique per agent and settable") {
  config::Config a = leaf_config(), b = leaf_config();
  b.agent.state_dir = "/run/leaf-agent-2";
  const std::string na = config::server_name(a, "leaf-vm1");
  CHECK(na.rfind("leaf-vm1-", 0) == 0);
  CHECK(na.size() == std::string("leaf-vm1-").size() + 8);
  CHECK(na == config::server_name(a, "leaf-vm1"));  // stable across restarts
  CHECK(na != config::server_name(b, "leaf-vm1"));
  b = leaf_config();
  b.local.listen = "127.0.0.1:4333";
  CHECK(na != config::server_name(b, "leaf-vm1"));
  a.agent.state_dir += "/";  // the same directory
  CHECK(na == config::server_name(a, "leaf-vm1"));
  CHECK(config::server_name(a, "leaf-h o$t").find_first_of(" $") == std::string::npos);
  a.agent.server_name = "edge-7";
  CHECK(config::server_name(a, "leaf-vm1") == "edge-7");
  CHECK(load_error({{"agent.server_name", "has space"}}).find("agent.server_name") == 0);
  CHECK(load_error({{"agent.server_name", "edge-7.site_a"}}) == "");
  const std::string out = render::nats_config(a, render::builtin_template(a), "builtin", "leaf-vm1");
  CHECK(out.find("server_name: \"edge-7\"") != std::string::npos);
}

TEST_CASE("render: tags that bypass escaping are refused") {
  CHECK(render_error("listen: \"{{{listen}}}\"\n").find("template custom.tmpl:1: {{{ }}} emits a value unescaped") == 0);
  CHECK(render_error("# x\nlisten: \"{{&listen}}\"\n").find("template custom.tmpl:2: {{& }}") == 0);
  CHECK(render_error("{{=<% %>=}}\nlisten: \"<%&listen%>\"\n").find("changes the tag delimiters") != std::string::npos);
}

TEST_CASE("render: a template cannot open listeners beyond loopback, nor a cluster") {
  const std::string ok = "listen: \"{{listen}}\"\nhttp: \"{{monitor}}\"\n";
  CHECK(render_error(ok) == "");
  CHECK(render_error("listen: \"0.0.0.0:4222\"\n").find("is not a loopback address") != std::string::npos);
  CHECK(render_error("listen: 4222\n").find("has no host (nats-server would bind 0.0.0.0)") != std::string::npos);
  CHECK(render_error("listen = \":4222\"\n").find("is not a loopback address") != std::string::npos);
  CHECK(render_error("port: 4222\n").find("nats-server would bind 0.0.0.0") != std::string::npos);
  CHECK(render_error("host: 127.0.0.1\nport: 4222\n") == "");
  CHECK(render_error("host: 0.0.0.0\nport: 4222\n").find("not a loopback host") != std::string::npos);
  CHECK(render_error("NET: \"10.0.0.1\"\nlisten: \"127.0.0.1:1\"\n").find("not a loopback host") != std::string::npos);
  CHECK(render_error(ok + "HTTP: \"0.0.0.0:8222\"\n").find("HTTP = \"0.0.0.0:8222\"") != std::string::npos);
  CHECK(render_error(ok + "https: \"[::]:8222\"\n").find("not a loopback") != std::string::npos);
  CHECK(render_error(ok + "http: \"[::1]:8222\"\n") == "");
  CHECK(render_error(ok + "http_port: 8222\n") == "");  // on the loopback host set by listen
  CHECK(render_error("http_port: 8222\n").find("would bind 0.0.0.0") != std::string::npos);
  CHECK(render_error(ok + "cluster {\n  listen: \"127.0.0.1:6222\"\n}\n").find("a cluster block") != std::string::npos);
  CHECK(render_error(ok + "gateway: { name: x }\n").find("a gateway block") != std::string::npos);
  CHECK(render_error(ok + "websocket { port: 8080 }\n").find("websocket") != std::string::npos);
  CHECK(render_error(ok + "mqtt { port: 1883 }\n").find("mqtt") != std::string::npos);
  CHECK(render_error(ok + "prof_port: 6060\n").find("prof_port") != std::string::npos);
  CHECK(render_error(ok + "leafnodes { port: 7422 }\n").find("leafnodes.port would accept") != std::string::npos);
  CHECK(render_error(ok + "leaf { listen: \"127.0.0.1:7422\" }\n").find("leaf.listen") != std::string::npos);
  CHECK(render_error(ok + "include './more.conf'\n").find("'include' is not allowed") != std::string::npos);
  CHECK(render_error(ok + "x: $LISTEN\nlisten: $x\n").find("quoted \"host:port\" literal") != std::string::npos);
  CHECK(render_error("# nothing\n").find("no listen address") != std::string::npos);
  CHECK(render_error(ok + "a { b { c: [1, 2, {d: 3}] } }\n") == "");
  CHECK(render_error(ok + "a: \"unterminated\n").find("cannot be checked") != std::string::npos);
}

TEST_CASE("nats_conf: the built-in templates read back, and syntax limits hold") {
  config::Config c = leaf_config();
  c.upstream.ca_file = "/ca.pem";
  c.upstream.cert_file = "/c.pem";
  c.upstream.key_file = "/k.pem";
  c.upstream.handshake_first = true;
  const std::string out = render::nats_config(c, render::builtin_template(c), "builtin", "leaf-test", nullptr,
                                              nats_version::Version{2, 10, 27});
  const config::ConfNode root = config::parse_nats_conf(out);
  REQUIRE(root.keys.size() == 6);
  CHECK(root.keys[0] == "server_name");
  CHECK(root.keys[3] == "ping_interval");
  CHECK(root.keys[4] == "ping_max");
  CHECK(root.keys[5] == "leafnodes");
  c.agent.mode = "dev";
  config::parse(c);
  CHECK(error_of([&] { render::nats_config(c, render::builtin_template(c), "dev", "leaf-test"); }) == "");
  CHECK(error_of([] { std::string deep;
          for (int i = 0; i < 100; ++i) deep += "a {";
          config::parse_nats_conf(deep); }).find("nested too deeply") != std::string::npos);
  CHECK(error_of([] { config::parse_nats_conf("a: \"\\q\""); }).find("unknown escape") != std::string::npos);
  const auto v = config::parse_nats_conf("a = 'x y'; b: \"\\x41\\n\"\nc (\n  raw\n)\n");
  CHECK(v.values.at(0).text == "x y");
  CHECK(v.values.at(1).text == "A\n");
  CHECK(v.values.at(2).kind == config::ConfNode::Kind::block);
}

TEST_CASE("config: environment values that are not UTF-8 are refused (found by fuzz_config)") {
  const config::Environment env = {{"LEAF_AGENT_UPSTREAM_URLS", "tls://[::2]:7422\xff\xff"}};
  CHECK(error_of([&] { config::load("[agent]\nmode = \"dev\"\n", "x", env, {}); }) ==
        "environment LEAF_AGENT_UPSTREAM_URLS: the value is not valid UTF-8; fix its encoding");
  CHECK(error_of([&] { config::load("", "x", {{"LEAF_AGENT_AGENT_LOG_LEVEL", "caf\xc3\xa9"}}, {{"agent.mode", "dev"}}); })
            .find("agent.log_level must be one of") == 0);  // valid UTF-8 reaches the key's own check
}
