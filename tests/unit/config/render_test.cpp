#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"
#include "agent/config/render.hpp"
#include "agent/config/templates_builtin.hpp"
#include "error_of.hpp"

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
  const std::string out = render::nats_config(c, render::builtin_template(c), "builtin", "leaf-test", nullptr,
                                              nats_version::Version{2, 10, 27});
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

namespace {
// What render() gave before collapse_plain_lines: kainjow on the template as written.
std::string kainjow_as_written(const std::string& tmpl, const render::Data& d) {
  kainjow::mustache::mustache m{tmpl};
  REQUIRE(m.is_valid());
  m.set_custom_escape([](const std::string& s) { return render::escape_nats_string(s); });
  return m.render(d);
}

render::Data every_key(bool on) {
  render::Data d;
  for (const char* k : {"version", "server_name", "listen", "monitor", "jetstream_dir", "creds_file", "ping_interval",
                        "ping_max", "reconnect_seconds", "tls_timeout_seconds", "local_operator_jwt",
                        "local_system_account", "local_system_jwt", "local_account", "local_account_jwt", "port",
                        "leaf_port", "http_port", "operator_jwt", "system_account", "system_jwt", "account",
                        "account_jwt", "ca_file", "cert_file", "key_file", "dir", "domain"}) {
    if (on) d.set(k, std::string("v-") + k);
    else d.set(k, false);
  }
  d.set("local_jwt", on);
  d.set("handshake_first", on);
  d.set("jetstream_domain", on ? render::Data(std::string("dom")) : render::Data(false));
  render::Data urls{render::Data::type::list};
  for (int i = 0; i < (on ? 3 : 1); ++i) {
    render::Data u;
    u.set("url", "tls://hub-" + std::to_string(i) + ":7422");
    u.set("last", i == (on ? 2 : 0));
    urls.push_back(u);
  }
  d.set("urls", urls);
  return d;
}
}  // namespace

TEST_CASE("render: collapsing the lines without tags renders every template byte for byte as before") {
  const std::vector<std::string> templates = {
      templates::kLeafnode, templates::kDev, templates::kHub,
      // Standalone and indented section tags, whitespace-only lines, a list repeating plain lines,
      // inverted sections, CRLF and a last line without a newline.
      "plain first\n{{#local_jwt}}\n  inside a section\n   \n{{/local_jwt}}\n  {{^local_jwt}}  \nnot jwt\n  {{/local_jwt}}\n"
      "{{#urls}}\nurl line\n  {{url}} and text\n{{/urls}}\n\n\t\ntail without newline",
      "crlf line\r\n{{#local_jwt}}\r\njwt crlf\r\n{{/local_jwt}}\r\nend\r\n",
      "", "\n", "\n\n", "only text", "{{version}}", "a }} b\n{{! a comment }}\nc\n",
      // Tags over several lines: what is inside stays inside (a commented-out listen never renders).
      "a: 1\n{{! disabled:\nx: 1\nlisten: \"0.0.0.0:4222\"\n}}\nb: {{version}}\n",
      "{{! one }}{{! two\nstill two\n}} after\nplain\n", "{{#local_jwt}}{{!\nc\n}}\nin\n{{/local_jwt}}\nout\n",
  };
  for (const auto& t : templates) {
    for (bool on : {true, false}) {
      const render::Data d = every_key(on);
      CAPTURE(t);
      CAPTURE(on);
      CHECK(render::render(t, d, "t") == kainjow_as_written(t, d));
      CHECK(render::render(t, d, "t").find("0.0.0.0") == std::string::npos);
    }
  }
  // The built-in leaf template is mostly comment lines: most of it becomes a few variables.
  const auto c = render::collapse_plain_lines(templates::kLeafnode);
  CHECK(c.lines.size() > 10);
  CHECK(c.text.size() < std::string(templates::kLeafnode).size());
}

TEST_CASE("render: for the nats-server release that runs it (2.9 to 2.15)") {
  using nats_version::Version;
  config::Config c = leaf_config();
  // The built-in template leaves leafnodes.reconnect at the server's default (1 s in every
  // release): 2.9 takes whole seconds, 2.10+ a duration (a number is a warning that fails -t).
  CHECK(render_leaf(c).find("reconnect:") == std::string::npos);
  // A user template that sets it chooses the form by the release (the README's two sections).
  const std::string tmpl = "listen: \"{{listen}}\"\nleafnodes {\n{{#reconnect_duration}}  reconnect: \"{{reconnect_duration}}\"\n"
                           "{{/reconnect_duration}}{{^reconnect_duration}}  reconnect: {{reconnect_seconds}}\n{{/reconnect_duration}}}\n"
                           "# v{{nats_version}}\n";
  CHECK(render::nats_config(c, tmpl, "t", "x", nullptr, Version{2, 9, 10}).find("reconnect: 1\n") != std::string::npos);
  CHECK(render::nats_config(c, tmpl, "t", "x", nullptr, Version{2, 10, 27}).find("reconnect: \"1s\"") != std::string::npos);
  CHECK(render::nats_config(c, tmpl, "t", "x", nullptr, Version{2, 15, 1}).find("# v2.15.1") != std::string::npos);
  CHECK(render::nats_config(c, tmpl, "t", "x").find("reconnect: \"1s\"") != std::string::npos);  // unknown: today's form

  // Options of newer releases, each written only when set, and refused on a release without it.
  c.upstream.compression = "s2_fast";
  c.upstream.first_info_timeout = "3s";
  c.upstream.dial_timeout = "1500ms";
  const std::string out = render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, Version{2, 15, 1});
  CHECK(out.find("compression: \"s2_fast\"") != std::string::npos);
  CHECK(out.find("first_info_timeout: \"3s\"") != std::string::npos);
  CHECK(out.find("dial_timeout: \"1500ms\"") != std::string::npos);
  CHECK(error_of([&] { render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, Version{2, 14, 4}); }) ==
        "upstream.dial_timeout needs nats-server >= 2.14.5, but the nats-server it is rendered for is v2.14.4; remove the "
        "option or run nats-server 2.14.5 or later");
  c.upstream.dial_timeout.clear();
  CHECK(error_of([&] { render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, Version{2, 10, 25}); })
            .rfind("upstream.first_info_timeout needs nats-server >= 2.10.26", 0) == 0);
  c.upstream.first_info_timeout.clear();
  CHECK(error_of([&] { render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, Version{2, 9, 10}); })
            .rfind("upstream.compression needs nats-server >= 2.10.0", 0) == 0);
  CHECK(error_of([&] { render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, Version{2, 10, 0}); }) == "");
  // Unknown release with a gated option: refused, saying how to name the release.
  CHECK(error_of([&] { render_leaf(c); }).find("render --nats-version") != std::string::npos);
}

TEST_CASE("render: upstream.reconnect is written for the release, whole seconds on 2.9") {
  using nats_version::Version;
  config::Config c = leaf_config();
  const auto builtin = [&c](std::optional<Version> v) {
    return render::nats_config(c, render::builtin_template(c), "builtin", "x", nullptr, v);
  };
  c.upstream.reconnect = "50ms";
  CHECK(builtin(Version{2, 10, 27}).find("leafnodes {\n  reconnect: \"50ms\"\n  remotes = [") != std::string::npos);
  CHECK(builtin(Version{2, 15, 1}).find("  reconnect: \"50ms\"\n") != std::string::npos);
  // Unknown release: no form fits both (2.9 crashes on a duration, 2.10+ fail -t on a number).
  CHECK(error_of([&] { builtin(std::nullopt); }).rfind("upstream.reconnect is written as whole seconds for nats-server 2.9", 0) == 0);
  // 2.9 reads whole seconds only: a shorter wait is refused, naming the fix, before anything is written.
  CHECK(error_of([&] { builtin(Version{2, 9, 10}); }) ==
        "upstream.reconnect = \"50ms\" needs nats-server >= 2.10, but the nats-server it is rendered for is v2.9.10, "
        "which takes whole seconds; use \"1s\" or more, or run nats-server 2.10 or later");
  c.upstream.reconnect = "1500ms";
  CHECK(error_of([&] { builtin(Version{2, 9, 10}); }).rfind("upstream.reconnect = \"1500ms\" needs nats-server >= 2.10", 0) == 0);
  CHECK(builtin(Version{2, 10, 0}).find("  reconnect: \"1500ms\"\n") != std::string::npos);
  c.upstream.reconnect = "2s";
  CHECK(builtin(Version{2, 9, 10}).find("leafnodes {\n  reconnect: 2\n  remotes = [") != std::string::npos);
  CHECK(builtin(Version{2, 10, 27}).find("  reconnect: \"2s\"\n") != std::string::npos);
  // A user template's reconnect sections carry the configured value too.
  const std::string tmpl = "listen: \"{{listen}}\"\n# {{#reconnect_duration}}d={{reconnect_duration}}{{/reconnect_duration}} s={{reconnect_seconds}}\n";
  CHECK(render::nats_config(c, tmpl, "t", "x", nullptr, Version{2, 9, 10}).find("\n#  s=2\n") != std::string::npos);
  CHECK(render::nats_config(c, tmpl, "t", "x", nullptr, Version{2, 10, 27}).find("\n# d=2s s=2\n") != std::string::npos);
  // Out of range: refused by the config's own check, the same words from every command.
  for (const char* bad : {"5ms", "0", "11m", "fast", "-1s"}) {
    c.upstream.reconnect = bad;
    CAPTURE(bad);
    CHECK(error_of([&] { (void)c.reconnect(); }) ==
          std::string("upstream.reconnect must be a duration from 10ms to 10m (e.g. \"100ms\"), or unset for nats-server's "
                      "default of 1s, not \"") + bad + "\"");
  }
}

TEST_CASE("render: remote_disabled gives the same config with the remote disabled, for a move by toggle") {
  using nats_version::Version;
  const config::Config c = leaf_config();
  const std::string tmpl = render::builtin_template(c);
  const std::string as_checked = render::nats_config(c, tmpl, "builtin", "x", nullptr, Version{2, 12, 8});
  const std::string disabled = render::nats_config(c, tmpl, "builtin", "x", nullptr, Version{2, 12, 8}, "", true);
  CHECK(as_checked.find("disabled") == std::string::npos);
  REQUIRE(disabled.find("      disabled: true\n    }\n  ]\n}") != std::string::npos);
  // Nothing else differs: the remote is the same one to nats-server (its URLs, account, file).
  std::string back = disabled;
  back.erase(back.find("      disabled: true\n"), std::string("      disabled: true\n").size());
  CHECK(back == as_checked);
  // A template without the section renders the same text: the agent then moves at the expiry.
  const std::string mine = "listen: \"{{listen}}\"\nleafnodes { remotes = [ { urls: [{{#urls}}\"{{url}}\"{{/urls}}] } ] }\n";
  CHECK(render::nats_config(c, mine, "t", "x", nullptr, Version{2, 12, 8}, "", true) ==
        render::nats_config(c, mine, "t", "x", nullptr, Version{2, 12, 8}));
}

TEST_CASE("nats_version: parse what --version and the banner print, compare releases") {
  using nats_version::Version;
  CHECK(nats_version::parse("nats-server: v2.10.27\n") == Version{2, 10, 27});
  CHECK(nats_version::parse("v2.9.10") == Version{2, 9, 10});
  CHECK(nats_version::parse("2.15.1") == Version{2, 15, 1});
  CHECK(nats_version::parse("2.11.0-RC.1") == Version{2, 11, 0});
  CHECK_FALSE(nats_version::parse("nats-server: v2.10"));
  CHECK_FALSE(nats_version::parse("2.10.x"));
  CHECK_FALSE(nats_version::parse("2.10.27 extra"));
  CHECK_FALSE(nats_version::parse(""));
  CHECK(Version{2, 9, 10} < Version{2, 10, 0});
  CHECK(Version{2, 10, 26} > Version{2, 10, 9});
  CHECK(Version{2, 15, 1}.str() == "2.15.1");
}
