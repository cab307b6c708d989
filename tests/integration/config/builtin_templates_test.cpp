// The built-in templates are not checked with `nats-server -t` at each start (it costs tens of
// milliseconds on the critical path, issue #10): this suite is that check, on every variant
// they render, against the nats-server the agent runs. local.auth = jwt is checked the same way
// in tests/integration/supervise/local_boundary_test.cpp ("init writes a config nats-server accepts").
#include <doctest/doctest.h>

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
}
