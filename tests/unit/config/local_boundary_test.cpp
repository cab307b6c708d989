// local.auth = "jwt": config rules, the minted chain, its rendering, what the host is given.
#include <doctest/doctest.h>

#include "agent/config/config.hpp"
#include "agent/config/local_boundary.hpp"
#include "agent/config/render.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/inspect.hpp"
#include "agent/core/jwt.hpp"
#include "error_of.hpp"

using namespace leaf;

namespace {
constexpr std::int64_t kNow = 1700000000;

config::Config jwt_config(const std::string& extra = "") {
  return config::load("[upstream]\nurls = [\"tls://hub:7422\"]\n[local]\nauth = \"jwt\"\n" + extra, "t.toml", {}, {});
}

std::string env_value(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& e : env) {
    if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
  }
  return "(unset)";
}
}  // namespace

TEST_CASE("local boundary config: none by default, jwt by file or env, permissions only with jwt") {
  const auto def = config::load("[upstream]\nurls = [\"tls://hub:7422\"]\n", "t.toml", {}, {});
  CHECK(def.local.auth == "none");
  CHECK(jwt_config().local.jwt());
  CHECK(config::load("", "t", {{"LEAF_AGENT_LOCAL_AUTH", "jwt"}, {"LEAF_AGENT_AGENT_MODE", "dev"}}, {}).local.jwt());
  CHECK(jwt_config("host_sub_allow = [\"wasmbus.>\", \"_INBOX.>\"]\n").local.host_sub_allow.size() == 2);

  CHECK(error_of([] {
          config::load("[upstream]\nurls = [\"tls://hub:7422\"]\n[local]\nauth = \"password\"\n", "t", {}, {});
        }).find("local.auth must be \"none\"") == 0);
  CHECK(error_of([] {
          config::load("[upstream]\nurls = [\"tls://hub:7422\"]\n[local]\nhost_pub_deny = [\"a.>\"]\n", "t", {}, {});
        }).find("local.host_pub_deny needs local.auth = \"jwt\"") == 0);
  for (const char* bad : {"a..b", "a.>.b", "a b", "", "a.b*", "a."}) {
    CAPTURE(bad);
    CHECK(error_of([bad] { jwt_config(std::string("host_pub_allow = [\"") + bad + "\"]\n"); })
              .find("is not a NATS subject") != std::string::npos);
  }
}

TEST_CASE("local boundary: the minted chain verifies, links up, and is new every time") {
  const auto c = jwt_config("host_pub_deny = [\"secret.>\"]\n");
  const auto ch = local_boundary::mint(c, kNow);
  REQUIRE(ch.enabled());

  const auto op = jwt::decode(ch.operator_jwt);
  const auto sys = jwt::decode(ch.system_jwt);
  const auto acc = jwt::decode(ch.account_jwt);
  for (const auto* t : {&op, &sys, &acc}) {
    CHECK(jwt::signature_verifies(*t));
    CHECK(t->issuer() == ch.operator_public);
    CHECK(inspect::boundary(*t) == "local");
  }
  CHECK(op.name() == "leaf-agent-local");
  CHECK(op.claims["nats"]["system_account"] == ch.system_account);
  CHECK(acc.subject() == ch.account);
  CHECK_FALSE(acc.claims["nats"]["limits"].contains("disk_storage"));  // a leaf runs no JetStream

  // The host's user: a standard client of the local account with the configured permissions.
  const auto host = creds::validate(creds::parse(ch.host_creds), kNow);
  CHECK(host.account == ch.account);
  CHECK(host.subject == ch.host_user);
  CHECK(host.token.allowed_connection_types() == std::vector<std::string>{"STANDARD"});
  CHECK(host.token.claims["nats"]["pub"]["deny"] == jwt::Json::array({"secret.>"}));
  const auto sub = host.token.claims["nats"].value("sub", jwt::Json::object());
  CHECK(sub.value("allow", jwt::Json::array()).empty());
  CHECK(sub.value("deny", jwt::Json::array()).empty());
  // The probe's user may touch no subject.
  const auto probe = creds::validate(creds::parse(ch.health_creds), kNow);
  CHECK(probe.account == ch.account);
  CHECK(probe.token.claims["nats"]["pub"]["deny"] == jwt::Json::array({">"}));
  CHECK(probe.token.claims["nats"]["sub"]["deny"] == jwt::Json::array({">"}));

  const auto again = local_boundary::mint(c, kNow);
  CHECK(again.operator_public != ch.operator_public);
  CHECK(again.account != ch.account);

  config::Config none = c;
  none.local = {};
  CHECK_FALSE(local_boundary::mint(none, kNow).enabled());
  CHECK(local_boundary::host_env(none, local_boundary::mint(none, kNow)).empty());
}

TEST_CASE("local boundary: dev mode gives the local account JetStream") {
  auto c = config::load("", "t", {{"LEAF_AGENT_LOCAL_AUTH", "jwt"}, {"LEAF_AGENT_AGENT_MODE", "dev"}}, {});
  const auto ch = local_boundary::mint(c, kNow);
  CHECK(jwt::decode(ch.account_jwt).claims["nats"]["limits"].contains("disk_storage"));
  const std::string out = render::nats_config(c, render::builtin_template(c), "dev", "t", &ch);
  CHECK(out.find("operator: \"" + ch.operator_jwt + "\"") != std::string::npos);
  CHECK(out.find("jetstream {") != std::string::npos);
}

TEST_CASE("local boundary: the leaf config trusts the chain and binds the remote to the local account") {
  const auto c = jwt_config();
  const auto ch = local_boundary::mint(c, kNow);
  const std::string out = render::nats_config(c, render::builtin_template(c), "builtin", "leaf-test", &ch);
  CHECK(out.find("operator: \"" + ch.operator_jwt + "\"") != std::string::npos);
  CHECK(out.find("system_account: \"" + ch.system_account + "\"") != std::string::npos);
  CHECK(out.find("resolver: MEMORY") != std::string::npos);
  CHECK(out.find("\"" + ch.account + "\": \"" + ch.account_jwt + "\"") != std::string::npos);
  CHECK(out.find("      account: \"" + ch.account + "\"") != std::string::npos);
  const std::string seed(ch.host_seed.begin(), ch.host_seed.end());
  CHECK(out.find(seed) == std::string::npos);

  // Without a chain (the `render` command) a throwaway one stands in; without jwt, none at all.
  CHECK(render::nats_config(c, render::builtin_template(c), "builtin", "t").find("resolver: MEMORY") != std::string::npos);
  config::Config none = c;
  none.local.auth = "none";
  const std::string open = render::nats_config(none, render::builtin_template(none), "builtin", "t");
  CHECK(open.find("operator") == std::string::npos);
  CHECK(open.find("account:") == std::string::npos);

  // A template that drops the chain is refused.
  CHECK(error_of([&] { render::nats_config(c, "listen: \"{{listen}}\"\n", "mine.tmpl", "t", &ch); })
            .find("template mine.tmpl leaves out the local trust chain") == 0);
}

TEST_CASE("local boundary: the host gets JWT and seed under wasmCloud's names - status shows keys only") {
  const auto c = jwt_config();
  const auto ch = local_boundary::mint(c, kNow);
  const auto env = local_boundary::host_env(c, ch);
  const std::string seed(ch.host_seed.begin(), ch.host_seed.end());
  for (const char* p : {"WASMCLOUD_NATS", "WASMCLOUD_CTL", "WASMCLOUD_RPC"}) {
    CAPTURE(p);
    CHECK(env_value(env, std::string(p) + "_JWT") == ch.host_jwt);
    const bool seed_given = env_value(env, std::string(p) + "_SEED") == seed;  // no seed in test output
    CHECK(seed_given);
  }
  CHECK(env_value(env, "WASMCLOUD_NATS_CREDS") == "(unset)");  // the host refuses creds + JWT together
  const auto st = local_boundary::status(c, ch);
  CHECK(st["mode"] == "jwt");
  CHECK(st["account"] == ch.account);
  CHECK(st.dump().find(seed) == std::string::npos);
}
