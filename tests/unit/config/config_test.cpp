#include <doctest/doctest.h>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"
#include "error_of.hpp"

using namespace leaf;
using config::Config;

namespace {

const char* kBase = R"(
[upstream]
urls = ["tls://hub-a:7422", "tls://hub-b:7422"]
ca_file = "/etc/ca.pem"
[credentials]
file = "/run/leaf.creds"
[agent]
log_level = "info"
)";
}  // namespace

TEST_CASE("config: defaults, file, env and flags, in that order of precedence") {
  const Config d = config::load("", "none", {}, {{"agent.mode", "dev"}});
  CHECK(d.local.listen == "127.0.0.1:4222");
  CHECK(d.local.monitor == "127.0.0.1:8222");
  CHECK(d.agent.health_listen == "127.0.0.1:8090");
  CHECK(d.credentials.source == "file");

  const Config f = config::load(kBase, "agent.toml", {}, {});
  CHECK(f.upstream.urls == std::vector<std::string>{"tls://hub-a:7422", "tls://hub-b:7422"});
  CHECK(f.agent.log_level == "info");

  const config::Environment env = {{"LEAF_AGENT_AGENT_LOG_LEVEL", "debug"},
                                   {"LEAF_AGENT_UPSTREAM_URLS", "tls://c:7422, tls://d:7422"},
                                   {"UNRELATED", "x"}};
  const Config e = config::load(kBase, "agent.toml", env, {});
  CHECK(e.agent.log_level == "debug");
  CHECK(e.upstream.urls == std::vector<std::string>{"tls://c:7422", "tls://d:7422"});

  const Config fl = config::load(kBase, "agent.toml", env, {{"agent.log_level", "warn"}});
  CHECK(fl.agent.log_level == "warn");
  CHECK(config::load(kBase, "agent.toml", {{"LEAF_AGENT_UPSTREAM_HANDSHAKE_FIRST", "true"}}, {}).upstream.handshake_first);
}

TEST_CASE("config: unknown keys name the nearest valid one") {
  CHECK(error_of([] { config::load("[upstream]\nurl = \"tls://a:1\"\n", "a.toml", {}, {}); }) ==
        "a.toml: unknown key upstream.url (did you mean upstream.urls?)");
  CHECK(error_of([] { config::load("[agnet]\nmode = \"dev\"\n", "a.toml", {}, {}); }).find("did you mean agent.mode?") !=
        std::string::npos);
  CHECK(error_of([] { config::load("", "a.toml", {{"LEAF_AGENT_LOCAL_LISTN", "x"}}, {{"agent.mode", "dev"}}); }) ==
        "environment: unknown variable LEAF_AGENT_LOCAL_LISTN (did you mean LEAF_AGENT_LOCAL_LISTEN?)");
  CHECK(error_of([] { config::load("mode = \"dev\"\n", "a.toml", {}, {}); }) ==
        "a.toml: key mode must be inside a section (e.g. [agent])");
}

TEST_CASE("config: malformed TOML and wrong types give the line") {
  CHECK(error_of([] { config::load("[upstream\n", "a.toml", {}, {}); }).find("a.toml:1: malformed TOML") == 0);
  CHECK(error_of([] { config::load("[upstream]\nhandshake_first = \"yes\"\n", "a.toml", {}, {}); }) ==
        "a.toml:2: upstream.handshake_first must be true or false");
  CHECK(error_of([] { config::load("[upstream]\nurls = [1]\n", "a.toml", {}, {}); }) ==
        "a.toml:2: upstream.urls must be a list of strings");
}

TEST_CASE("config: localhost means localhost") {
  auto with_listen = [](const std::string& key, const std::string& v) {
    return error_of([&] { config::load("", "x", {}, {{"agent.mode", "dev"}, {key, v}}); });
  };
  CHECK(with_listen("local.listen", "127.0.0.1:4222") == "");
  CHECK(with_listen("local.listen", "127.0.0.5:4222") == "");
  CHECK(with_listen("local.listen", "[::1]:4222") == "");
  CHECK(with_listen("local.listen", "localhost:4222") == "");
  CHECK(with_listen("local.listen", "0.0.0.0:4222").find("is not a loopback address") != std::string::npos);
  CHECK(with_listen("local.listen", "[::]:4222").find("is not a loopback address") != std::string::npos);
  CHECK(with_listen("local.listen", "10.0.0.1:4222").find("is not a loopback address") != std::string::npos);
  CHECK(with_listen("local.monitor", "0.0.0.0:8222").find("local.monitor") == 0);
  CHECK(with_listen("agent.health_listen", "0.0.0.0:8090").find("agent.health_listen") == 0);
  CHECK(with_listen("agent.health_listen", "") == "");  // disabled
  CHECK(with_listen("local.listen", "127.0.0.1").find("is not host:port") != std::string::npos);
  CHECK(with_listen("local.listen", "127.0.0.1:99999").find("no valid port") != std::string::npos);
}

TEST_CASE("config: upstream and source rules") {
  CHECK(error_of([] { config::load("", "x", {}, {}); }).find("upstream.urls is required") == 0);
  CHECK(error_of([] { config::load("[upstream]\nurls=[\"nats://h:7422\"]\n", "x", {}, {}); }).find("plaintext") !=
        std::string::npos);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"upstream.cert_file", "/c.pem"}}); }) ==
        "upstream.cert_file and upstream.key_file go together: set both or neither");
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"upstream.account", "Anope"}}); }).find("upstream.account") == 0);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"credentials.source", "vault"}}); }).find("credentials.source must be") == 0);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"credentials.source", "http"}, {"credentials.url", "http://x/c"}}); }) ==
        "credentials.url must be an https:// URL");
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"credentials.source", "signer"}}); })
            .find("credentials.account_seed_file is required") == 0);
  CHECK(error_of([] {
          config::load(kBase, "x", {}, {{"credentials.source", "signer"}, {"credentials.account_seed_file", "/a.nk"},
                                       {"credentials.ttl", "2m"}});
        }).find("must exceed credentials.min_lifetime") != std::string::npos);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"agent.ready_timeout", "soon"}}); }).find("not a duration") !=
        std::string::npos);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"agent.log_format", "xml"}}); }).find("agent.log_format") == 0);
}

TEST_CASE("config: to_json shows the effective values with secret-bearing ones elided") {
  const Config c = config::load(kBase, "x", {},
                                {{"credentials.source", "http"}, {"credentials.url", "https://vault/v1/x?token=abc"}});
  const auto j = config::to_json(c);
  CHECK(j["upstream"]["urls"][1] == "tls://hub-b:7422");
  CHECK(j["credentials"]["url"] == "(set, not shown)");
  CHECK(j.dump().find("token=abc") == std::string::npos);
  CHECK(j["local"]["listen"] == "127.0.0.1:4222");
}

TEST_CASE("config: credentials.refresh_at is a fraction of the lifetime: 2/3 by default, 0.5, 75 %, nonsense refused") {
  CHECK(config::load(kBase, "x", {}, {}).refresh_fraction() == doctest::Approx(2.0 / 3.0));
  CHECK(config::load(kBase, "x", {}, {{"credentials.refresh_at", "0.5"}}).refresh_fraction() == doctest::Approx(0.5));
  CHECK(config::load(kBase, "x", {}, {{"credentials.refresh_at", "75%"}}).refresh_fraction() == doctest::Approx(0.75));
  for (const char* bad : {"1", "0", "soon", "3/2", "0.5x", "2/0", "-1/3", "99%"}) {
    CAPTURE(bad);
    CHECK(error_of([bad] { config::load(kBase, "x", {}, {{"credentials.refresh_at", bad}}); })
              .find("credentials.refresh_at must be a fraction") == 0);
  }
}

TEST_CASE("config: upstream.ping_interval and ping_max: defaults 20s x 3, whole seconds, an integer from 1 to 100") {
  const auto c = config::load(kBase, "x", {}, {});
  CHECK(c.ping_interval() == std::chrono::seconds(20));
  CHECK(c.ping_max() == 3);
  const auto t = config::load(std::string(kBase) + "\n", "x", {{"LEAF_AGENT_UPSTREAM_PING_MAX", "5"}},
                              {{"upstream.ping_interval", "1m"}});
  CHECK(t.ping_interval() == std::chrono::seconds(60));
  CHECK(t.ping_max() == 5);
  CHECK(config::to_json(t)["upstream"]["ping_max"] == 5);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"upstream.ping_interval", "500ms"}}); })
            .find("upstream.ping_interval must be whole seconds") == 0);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"upstream.ping_max", "0"}}); }).find("upstream.ping_max must be an integer") == 0);
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"upstream.ping_max", "3x"}}); }).find("upstream.ping_max must be an integer") == 0);
  CHECK(error_of([] { config::load("[upstream]\nping_max = \"3\"\n", "a.toml", {}, {}); }) == "a.toml:2: upstream.ping_max must be an integer");
}

TEST_CASE("config: credentials.rotate is auto (the default), toggle or expiry") {
  CHECK(config::load(kBase, "x", {}, {}).credentials.rotate == "auto");
  CHECK(config::load(kBase, "x", {}, {{"credentials.rotate", "expiry"}}).credentials.rotate == "expiry");
  CHECK(config::load(kBase, "x", {}, {{"credentials.rotate", "toggle"}}).credentials.rotate == "toggle");
  CHECK(config::load(kBase, "x", {{"LEAF_AGENT_CREDENTIALS_ROTATE", "expiry"}}, {}).credentials.rotate == "expiry");
  CHECK(error_of([] { config::load(kBase, "x", {}, {{"credentials.rotate", "reload"}}); }) ==
        "credentials.rotate must be \"auto\" (move the leaf by config reload where nats-server can), \"toggle\" (by "
        "disabling and enabling its remote, nats-server 2.12+) or \"expiry\" (when the hub expires the old credentials), "
        "not \"reload\"");
}

TEST_CASE("config: the remote options of newer nats-server releases, and the release to write for") {
  const auto err = [](const char* key, const char* value) {
    return error_of([&] { config::load(kBase, "x", {}, {{key, value}}); });
  };
  CHECK(err("upstream.compression", "s2_auto") == "");
  CHECK(err("upstream.compression", "off") == "");
  CHECK(err("upstream.compression", "lz4").rfind("upstream.compression must be one of off, accept, s2_auto", 0) == 0);
  CHECK(err("upstream.first_info_timeout", "3s") == "");
  CHECK(err("upstream.first_info_timeout", "0s").rfind("upstream.first_info_timeout must be a duration from 1ms to 10m", 0) == 0);
  CHECK(err("upstream.dial_timeout", "11m").rfind("upstream.dial_timeout must be a duration", 0) == 0);
  CHECK(err("upstream.dial_timeout", "soon").rfind("upstream.dial_timeout must be a duration", 0) == 0);
  const Config c = config::load(kBase, "x", {}, {{"upstream.first_info_timeout", "1500ms"}, {"upstream.dial_timeout", "2m"}});
  CHECK(c.first_info_timeout() == "1500ms");  // Go's duration text, as nats-server parses it
  CHECK(c.dial_timeout() == "120s");
  CHECK(err("agent.nats_version", "2.10.27") == "");
  CHECK(err("agent.nats_version", "2.10") == "agent.nats_version must be a nats-server release like \"2.10.27\", not \"2.10\"");
}
