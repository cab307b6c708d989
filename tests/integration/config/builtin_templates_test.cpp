// The built-in templates are not checked with `nats-server -t` at each start (it costs tens of
// milliseconds on the critical path, issue #10): this suite is that check, on every variant
// they render, against the nats-server the agent runs. local.auth = jwt is checked the same way
// in tests/integration/supervise/local_boundary_test.cpp ("init writes a config nats-server accepts").
#include <doctest/doctest.h>

#include <array>

#include <map>
#include <string>

#include "support/harness.hpp"

using namespace harness;

namespace {
// `leaf-agent render` of agent.toml built from `keys` ("section.key" -> TOML value), then
// `nats-server -t` on the result.
void check_variant(const std::string& name, std::map<std::string, std::string> keys, const TempDir& dir, const std::string& state) {
  INFO("variant: " << name);
  std::map<std::string, std::map<std::string, std::string>> sections;
  for (const auto& [k, v] : keys) sections[k.substr(0, k.find('.'))][k.substr(k.find('.') + 1)] = v;
  std::string toml;
  for (const auto& [section, kv] : sections) {
    toml += "[" + section + "]\n";
    for (const auto& [k, v] : kv) toml += k + " = " + v + "\n";
  }
  write_file(dir / "agent.toml", toml, 0644);
  const Result r = agent({"render", "-c", dir / "agent.toml", "--state-dir", state});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  write_file(dir / "rendered.conf", r.out);
  const Result t = run({leaf_nats(), "-t", "-c", dir / "rendered.conf"});
  CHECK_MESSAGE(t.code == 0, std::string(t.out + t.err + "\n" + r.out));
  // Accepted without a word: 2.10+ print warnings (a bare-number reconnect) and then fail -t.
  const std::string said = t.out + t.err;
  CHECK_MESSAGE(said.find("is valid") != std::string::npos, said);
  CHECK_MESSAGE(said.find("warn") == std::string::npos, said);
  CHECK(r.out.find("listen: 0.0.0.0") == std::string::npos);
}
}  // namespace

TEST_CASE("templates: every variant of the built-in templates is a config nats-server accepts") {
  TempDir dir;
  REQUIRE(agent({"dev-hub", "--dir", dir / "hub"}).code == 0);
  const auto q = [](const std::string& s) { return "\"" + s + "\""; };
  const std::map<std::string, std::string> leaf = {
      {"upstream.urls", "[\"tls://127.0.0.1:17422\"]"},
      {"upstream.ca_file", q(dir / "hub/ca.pem")},
      {"credentials.source", "\"file\""},
      {"credentials.file", q(dir / "hub/leaf.creds")},
      {"local.listen", "\"127.0.0.1:4222\""},
      {"local.monitor", "\"127.0.0.1:8222\""},
  };
  check_variant("leaf, one URL", leaf, dir, dir / "state");

  auto many = leaf;
  many["upstream.urls"] = "[\"tls://127.0.0.1:17422\", \"tls://localhost:17423\", \"tls://hub.example:7422\"]";
  many["upstream.jetstream_domain"] = "\"hub\"";
  many["upstream.account"] = q(read_file(dir / "hub/lattice.pub").substr(0, 56));
  many["upstream.ping_interval"] = "\"5s\"";
  many["upstream.ping_max"] = "7";
  many["agent.server_name"] = "\"edge-7\"";
  check_variant("leaf, several URLs, domain, account, pings, server name", many, dir, dir / "state");

  auto mtls = leaf;
  mtls["upstream.cert_file"] = q(dir / "hub/leaf-client.pem");
  mtls["upstream.key_file"] = q(dir / "hub/leaf-client-key.pem");
  check_variant("leaf, mutual TLS", mtls, dir, dir / "state");

  auto localhost = leaf;
  localhost["local.listen"] = "\"localhost:4333\"";
  localhost["local.monitor"] = "\"[::1]:8333\"";
  check_variant("leaf, localhost and IPv6 loopback listeners", localhost, dir, dir / "state");

  check_variant("leaf, a state_dir with a quote and a space", leaf, dir, dir / "it's a dir");  // '$' is refused by the config check

  check_variant("dev", {{"agent.mode", "\"dev\""}, {"local.listen", "\"127.0.0.1:4222\""}, {"local.monitor", "\"127.0.0.1:8222\""}},
                dir, dir / "state");

  // The remote options of newer releases: written and accepted where the release has them,
  // refused before anything is written where it does not (the release is the leaf's).
  const auto v = nats_version_of(leaf_nats());
  INFO("nats-server " << v[0] << "." << v[1] << "." << v[2]);
  const struct {
    const char* key;
    const char* value;
    std::array<int, 3> since;
  } gated[] = {{"upstream.compression", "\"s2_fast\"", {2, 10, 0}},
               {"upstream.handshake_first", "true", {2, 10, 0}},
               {"upstream.first_info_timeout", "\"3s\"", {2, 10, 26}},
               {"upstream.dial_timeout", "\"2s\"", {2, 14, 5}}};
  for (const auto& g : gated) {
    auto with = leaf;
    with[g.key] = g.value;
    if (v >= g.since) {
      check_variant(std::string("leaf, ") + g.key, with, dir, dir / "state");
    } else {
      std::string toml = "[upstream]\nurls = [\"tls://127.0.0.1:17422\"]\n" + std::string(g.key).substr(9) + " = " + g.value +
                         "\n[credentials]\nfile = " + q(dir / "hub/leaf.creds") + "\n";
      write_file(dir / "gated.toml", toml, 0644);
      const Result r = agent({"render", "-c", dir / "gated.toml", "--state-dir", dir / "state"});
      CHECK(r.code == 3);
      CHECK_MESSAGE(r.err.find(std::string(g.key) + " needs nats-server >= ") != std::string::npos, r.err);
      CHECK(r.out.empty());
    }
  }

  // upstream.reconnect: whole seconds on every release; under a second only where the release
  // takes a duration (2.10+), refused on 2.9 before anything is written.
  auto slow = leaf;
  slow["upstream.reconnect"] = "\"2s\"";
  check_variant("leaf, upstream.reconnect = 2s", slow, dir, dir / "state");
  CHECK(read_file(dir / "rendered.conf").find(v >= std::array<int, 3>{2, 10, 0} ? "  reconnect: \"2s\"\n" : "  reconnect: 2\n") !=
        std::string::npos);
  auto quick = leaf;
  quick["upstream.reconnect"] = "\"50ms\"";
  if (v >= std::array<int, 3>{2, 10, 0}) {
    check_variant("leaf, upstream.reconnect = 50ms", quick, dir, dir / "state");
  } else {
    write_file(dir / "quick.toml", "[upstream]\nurls = [\"tls://127.0.0.1:17422\"]\nreconnect = \"50ms\"\n[credentials]\nfile = " +
                                      q(dir / "hub/leaf.creds") + "\n", 0644);
    const Result r = agent({"render", "-c", dir / "quick.toml", "--state-dir", dir / "state"});
    CHECK(r.code == 3);
    CHECK_MESSAGE(r.err.find("upstream.reconnect = \"50ms\" needs nats-server >= 2.10") != std::string::npos, r.err);
    CHECK(r.out.empty());
  }
}

TEST_CASE("templates: a template of the user's that sets reconnect is written for the release that runs it") {
  // The README's two sections: a duration from 2.10, whole seconds on 2.9; -t of each release
  // accepts its own form without a word (and would refuse or crash on the other).
  TempDir dir;
  REQUIRE(agent({"dev-hub", "--dir", dir / "hub"}).code == 0);
  write_file(dir / "mine.tmpl",
             "listen: \"{{listen}}\"\nhttp: \"{{monitor}}\"\nleafnodes {\n"
             "{{#reconnect_duration}}  reconnect: \"{{reconnect_duration}}\"\n"
             "{{/reconnect_duration}}{{^reconnect_duration}}  reconnect: {{reconnect_seconds}}\n{{/reconnect_duration}}"
             "  remotes = [ { urls: [{{#urls}}\"{{url}}\"{{/urls}}], credentials: \"{{creds_file}}\" } ]\n}\n",
             0644);
  write_file(dir / "agent.toml",
             "[upstream]\nurls = [\"tls://127.0.0.1:17422\"]\n[credentials]\nfile = \"" + dir / "hub/leaf.creds" +
                 "\"\n[agent]\ntemplate = \"" + dir / "mine.tmpl" + "\"\nstate_dir = \"" + dir / "state" + "\"\n",
             0644);
  const Result r = agent({"render", "-c", dir / "agent.toml"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  const auto v = nats_version_of(leaf_nats());
  CHECK(r.out.find(v >= std::array<int, 3>{2, 10, 0} ? "reconnect: \"1s\"" : "reconnect: 1\n") != std::string::npos);
  write_file(dir / "rendered.conf", r.out);
  const Result t = run({leaf_nats(), "-t", "-c", dir / "rendered.conf"});
  CHECK_MESSAGE(t.code == 0, std::string(t.out + t.err));
  CHECK_MESSAGE((t.out + t.err).find("warn") == std::string::npos, std::string(t.out + t.err));
}
