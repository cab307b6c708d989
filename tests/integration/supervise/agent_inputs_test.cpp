// Every credential source through a real `run`, and bad input: each a one-line error, a
// non-zero exit, nothing started, no credentials file written, no seed printed.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/io/fs.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/sources/signer.hpp"
#include "agent_support.hpp"
#include "support/https_server.hpp"

using namespace harness;

namespace {
std::string seed_of(const std::string& creds_text) {
  const auto c = leaf::creds::parse(creds_text);
  return std::string(c.seed.begin(), c.seed.end());
}


// Runs `run` with the setup's config and expects a refusal before anything starts.
void expect_refused(AgentSetup& a, int code, const std::string& message_part, std::map<std::string, std::string> env = {},
                    const std::string& secret = "") {
  const Result r = agent({"run", "-c", a.write_config()}, env, "", 60s);
  CAPTURE(r.err);
  CHECK(r.code == code);
  const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
  CHECK(last.rfind("leaf-agent: ", 0) == 0);       // the error is the last line, one line
  CHECK(last.find(message_part) != std::string::npos);
  CHECK(file_mode(a.state("upstream.creds")) == -1);   // nothing half-done
  CHECK(file_mode(a.state("ready")) == -1);
  // The nats-server exec'd during the bootstrap never got a config, and is gone with its FIFO.
  CHECK(::access(a.state("nats.conf").c_str(), F_OK) != 0);
  CHECK(wait_until([&] { return pids_with(a.state("nats.conf")).empty(); }, 5s));
  CHECK_FALSE(nats_connect(a.local_url(), "", "", 300)->ok());  // no leaf listening
  if (!secret.empty()) CHECK(r.err.find(secret) == std::string::npos);
}

// The names in the agent's state_dir.
std::set<std::string> state_entries(const AgentSetup& a) {
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(a.state(""))) names.insert(e.path().filename().string());
  return names;
}

// A user creds for the hub's lattice account minted with the library: any claims we like.
std::string mint_custom(const Hub& hub, std::int64_t iat, std::optional<std::int64_t> exp, std::vector<std::string> types) {
  const auto account = leaf::signer::load_account_key(hub.file("hub/lattice.nk"));
  const auto user = leaf::nkeys::KeyPair::generate(leaf::nkeys::KeyType::user);
  leaf::jwt::UserSpec s{"t", user.public_key(), exp, "", std::move(types), {}, {}};
  const auto text = leaf::creds::format(leaf::jwt::sign(leaf::jwt::user_claims(s), account, iat), user.seed());
  return std::string(text.begin(), text.end());
}
}  // namespace

TEST_CASE("sources: env (JWT + seed, and a whole creds text) reaches ready and the seed is not inherited") {
  Hub hub;
  const auto parsed = leaf::creds::parse(read_file(hub.file("hub/leaf.creds")));
  const std::string seed(parsed.seed.begin(), parsed.seed.end());
  SUBCASE("NATS_JWT + NATS_SEED") {
    AgentSetup a(hub);
    a.toml["credentials"] = {{"source", "\"env\""}};
    const std::string out = a.dir / "env.out";
    auto p = a.start({"sh", "-c", "env > '" + out + "'"}, {{"NATS_JWT", parsed.jwt}, {"NATS_SEED", seed}});
    REQUIRE_MESSAGE(p->wait(40s) == 0, p->err());
    CHECK(read_file(out).find("NATS_SEED") == std::string::npos);  // the host never sees it
    CHECK(read_file(out).find(seed) == std::string::npos);
    CHECK(p->err().find(seed) == std::string::npos);
  }
  SUBCASE("creds_env") {
    AgentSetup a(hub);
    a.toml["credentials"] = {{"source", "\"env\""}, {"creds_env", "\"LEAF_CREDS\""}};
    auto p = a.start({"true"}, {{"LEAF_CREDS", read_file(hub.file("hub/leaf.creds"))}});
    CHECK_MESSAGE(p->wait(40s) == 0, p->err());
  }
}

TEST_CASE("sources: signer mints a LEAFNODE-only user from an account signing key") {
  Hub hub;
  AgentSetup a(hub);
  a.use_signer_source("1h");
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const Result inspect = agent({"creds", "inspect", "--json", a.state("upstream.creds")});
  const auto j = nlohmann::json::parse(inspect.out);
  CHECK(j["allowed_connection_types"] == nlohmann::json::array({"LEAFNODE"}));
  CHECK(j["issuer_account"] == hub.lattice_account());
  CHECK(j["expires_in_seconds"].get<int>() > 3500);
  CHECK(hub.leaf_accounts() == std::vector<std::string>{hub.lattice_account()});
}

TEST_CASE("sources: http fetches the creds from a local HTTPS endpoint with its own CA and a bearer token") {
  Hub hub;
  TempDir pki_dir;
  const auto ca = leaf::pki::make_ca("creds endpoint CA", 1);
  const auto cert = leaf::pki::make_cert(ca, "endpoint", {"127.0.0.1", "localhost"}, true, false, 1);
  write_file(pki_dir / "ca.pem", ca.cert_pem);
  write_file(pki_dir / "cert.pem", cert.cert_pem);
  write_file(pki_dir / "key.pem", cert.key_pem);
  write_file(pki_dir / "token", "s3cret-token\n");
  HttpsServer server(pki_dir / "cert.pem", pki_dir / "key.pem");
  const nlohmann::json vault = {{"data", {{"data", {{"creds", read_file(hub.file("hub/leaf.creds"))}}}}}};
  AgentSetup a(hub);
  a.toml["credentials"] = {{"source", "\"http\""},
                           {"url", AgentSetup::quote("https://127.0.0.1:" + std::to_string(server.port()) + "/v1/secret/leaf")},
                           {"json_pointer", "\"/data/data/creds\""},
                           {"token_file", AgentSetup::quote(pki_dir / "token")},
                           {"http_ca_file", AgentSetup::quote(pki_dir / "ca.pem")}};
  const std::map<std::string, std::string> no_proxy = {{"no_proxy", "127.0.0.1"}, {"NO_PROXY", "127.0.0.1"}};

  SUBCASE("200 with the Vault KV v2 shape") {
    server.respond(200, vault.dump());
    auto p = a.start({}, no_proxy);
    REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
    CHECK(server.last_authorization() == "Bearer s3cret-token");
  }
  SUBCASE("403") {
    server.respond(403, "{\"errors\":[\"permission denied\"]}");
    expect_refused(a, 4, "credentials endpoint: HTTP 403 from https://127.0.0.1:", no_proxy);
  }
  SUBCASE("garbage body") {
    server.respond(200, "<html>oops</html>", "text/html");
    expect_refused(a, 4, "credentials endpoint: bad body", no_proxy);
  }
}

// The host writes its environment and waits; the test reads it and nats-server's
// (/proc/<pid>/environ), then stops the agent. Each must hold none of `secrets` (names or values).
void expect_no_secret_in_children(AgentSetup& a, const std::map<std::string, std::string>& env,
                                  const std::vector<std::string>& secrets) {
  const std::string out = a.dir / "host-env.out";
  auto p = a.start({"sh", "-c", "trap 'exit 0' TERM; env > '" + out + ".tmp' && mv '" + out + ".tmp' '" + out +
                                   "'; while :; do sleep 0.05; done"},
                   env);
  REQUIRE_MESSAGE(wait_until([&] { return file_mode(out) != -1; }, 30s), p->err());
  const std::string host_env = read_file(out);
  const auto nats = pids_with(a.state("nats.conf"));
  REQUIRE(nats.size() == 1);
  std::string nats_env = read_file("/proc/" + std::to_string(nats[0]) + "/environ");
  std::replace(nats_env.begin(), nats_env.end(), '\0', '\n');
  CHECK(host_env.find("NATS_URL=") != std::string::npos);  // the host's environment is there
  CHECK(nats_env.find("PATH=") != std::string::npos);
  for (const auto& s : secrets) {
    CAPTURE(s);
    CHECK(host_env.find(s) == std::string::npos);
    CHECK(nats_env.find(s) == std::string::npos);
  }
  CHECK(p->stop() == 0);
}

// Issue #20 B: before, only the variables the configured source reads were kept from children.
TEST_CASE("sources: no secret-bearing variable reaches nats-server or the host, whatever the source") {
  Hub hub;
  const auto parsed = leaf::creds::parse(read_file(hub.file("hub/leaf.creds")));
  const std::string seed(parsed.seed.begin(), parsed.seed.end());
  SUBCASE("a seed and a JWT exported beside source = file") {
    AgentSetup a(hub);
    expect_no_secret_in_children(a, {{"NATS_SEED", seed}, {"NATS_JWT", parsed.jwt}},
                                 {"NATS_SEED", "NATS_JWT", seed, parsed.jwt});
  }
  SUBCASE("source = http with its URL, a token in the query, in LEAF_AGENT_CREDENTIALS_URL") {
    TempDir pki_dir;
    const auto ca = leaf::pki::make_ca("creds endpoint CA", 1);
    const auto cert = leaf::pki::make_cert(ca, "endpoint", {"127.0.0.1"}, true, false, 1);
    write_file(pki_dir / "ca.pem", ca.cert_pem);
    write_file(pki_dir / "cert.pem", cert.cert_pem);
    write_file(pki_dir / "key.pem", cert.key_pem);
    HttpsServer server(pki_dir / "cert.pem", pki_dir / "key.pem");
    server.respond(200, nlohmann::json{{"creds", read_file(hub.file("hub/leaf.creds"))}}.dump());
    AgentSetup a(hub);
    a.toml["credentials"] = {{"source", "\"http\""}, {"http_ca_file", AgentSetup::quote(pki_dir / "ca.pem")}};
    const std::string token = "tok-4ac1d2e9b7f3";
    const std::string url = "https://127.0.0.1:" + std::to_string(server.port()) + "/creds?token=" + token;
    expect_no_secret_in_children(
        a, {{"LEAF_AGENT_CREDENTIALS_URL", url}, {"no_proxy", "127.0.0.1"}, {"NO_PROXY", "127.0.0.1"}},
        {"LEAF_AGENT_CREDENTIALS_URL", token});
    CHECK(server.requests() >= 1);  // the URL came through to the source
  }
}

// A long-running command (`wait`) with a seed in its environment: after reading its configuration
// the agent holds the seed nowhere in memory (its environment block is zeroed, its copy of the
// environment wiped). Read through /proc/<pid>/mem, as a debugger or a core dump would see it.
// Not in a sanitizer build: the sanitizer runtime reads /proc/self/environ into a buffer of its
// own at start (sanitizer_common's GetEnv) and keeps it; seen there as the whole environment,
// NUL-separated, NATS_SEED included. That copy is the runtime's, not the agent's.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerOwnsEnvironCopy = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerOwnsEnvironCopy = true;
#else
constexpr bool kSanitizerOwnsEnvironCopy = false;
#endif
#else
constexpr bool kSanitizerOwnsEnvironCopy = false;
#endif

TEST_CASE("sources: a seed in the environment leaves the agent's memory, whatever the source") {
  if (kSanitizerOwnsEnvironCopy) {
    MESSAGE("not checked in a sanitizer build: its runtime keeps a copy of the environment");
    return;
  }
  const std::string seed = "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4";  // not a key of anything here
  // Looked for without its first 24 bytes: free() writes its list pointers over the start of a
  // freed block, and a copy freed unwiped is still a copy.
  const std::string tail = seed.substr(24);
  TempDir d;
  Process p({agent_bin(), "wait", "--timeout", "30s", "--health-listen", "127.0.0.1:" + std::to_string(free_port()),
             "--state-dir", d / "state"},
            {{"NATS_SEED", seed}});
  std::string where;
  // Until it polls: the configuration is read by then.
  REQUIRE(wait_until([&] { return p.running() && !read_file("/proc/" + std::to_string(p.pid()) + "/maps").empty(); }, 5s));
  std::this_thread::sleep_for(300ms);
  const std::string maps = read_file("/proc/" + std::to_string(p.pid()) + "/maps");
  std::ifstream mem("/proc/" + std::to_string(p.pid()) + "/mem", std::ios::binary);
  REQUIRE_MESSAGE(mem.good(), "cannot read /proc/<pid>/mem");
  std::istringstream lines(maps);
  size_t scanned = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string range, perms;
    f >> range >> perms;
    if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') continue;
    const auto dash = range.find('-');
    const auto lo = std::stoull(range.substr(0, dash), nullptr, 16), hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    // A sanitizer build's shadow memory is terabytes of reservation: not where a seed is kept.
    if (hi - lo > (1ull << 30)) continue;
    std::string block(hi - lo, '\0');
    mem.clear();
    mem.seekg(static_cast<std::streamoff>(lo));
    if (!mem.read(block.data(), static_cast<std::streamsize>(block.size()))) continue;
    scanned += block.size();
    if (block.find(tail) != std::string::npos) where += line + "\n";
  }
  CHECK(scanned > 0);
  CHECK_MESSAGE(where.empty(), "the seed is in " << where);
  p.stop();
}

TEST_CASE("bad credentials: refused before anything starts, with the reason") {
  Hub hub;
  AgentSetup a(hub);
  const std::int64_t now = leaf::unix_now();
  const std::string leaf_text = read_file(hub.file("hub/leaf.creds"));
  const std::string leaf_seed = seed_of(leaf_text);
  SUBCASE("missing file") {
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "nope.creds");
    expect_refused(a, 4, "cannot read " + (a.dir / "nope.creds"));
  }
  SUBCASE("expired") {
    const std::string text = mint_custom(hub, now - 7200, now - 3600, {"LEAFNODE"});
    write_file(a.dir / "x.creds", text);
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "x.creds");
    expect_refused(a, 4, "expired 1h ago", {}, seed_of(text));
  }
  SUBCASE("expiring sooner than min_lifetime") {
    write_file(a.dir / "x.creds", mint_custom(hub, now, now + 60, {"LEAFNODE"}));
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "x.creds");
    expect_refused(a, 4, "less than credentials.min_lifetime");
  }
  SUBCASE("tampered signature") {
    std::string text = leaf_text;
    const size_t end = text.find("\n------END NATS USER JWT");
    text[end - 4] = text[end - 4] == 'A' ? 'B' : 'A';
    write_file(a.dir / "x.creds", text);
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "x.creds");
    expect_refused(a, 4, "signature does not verify", {}, leaf_seed);
  }
  SUBCASE("seed not matching the JWT") {
    std::string text = leaf_text;
    const std::string other = seed_of(read_file(hub.file("hub/client.creds")));
    text.replace(text.find(leaf_seed), leaf_seed.size(), other);
    write_file(a.dir / "x.creds", text);
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "x.creds");
    expect_refused(a, 4, "seed does not belong to this JWT", {}, other);
  }
  SUBCASE("wrong account") {
    a.toml["upstream"]["account"] = AgentSetup::quote(leaf::nkeys::KeyPair::generate(leaf::nkeys::KeyType::account).public_key());
    expect_refused(a, 4, "but upstream.account is");
  }
  SUBCASE("user not allowed LEAFNODE") {
    write_file(a.dir / "x.creds", mint_custom(hub, now, std::nullopt, {"STANDARD"}));
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "x.creds");
    expect_refused(a, 4, "is not allowed to connect as a leaf node (allowed_connection_types: STANDARD)");
  }
}

TEST_CASE("bad configuration: one-line errors, exit 3, nothing started") {
  Hub hub;
  AgentSetup a(hub);
  SUBCASE("plaintext nats:// upstream") {
    a.toml["upstream"]["urls"] = "[\"nats://127.0.0.1:" + std::to_string(hub.leaf_port) + "\"]";
    expect_refused(a, 3, "is plaintext; use tls://");
  }
  SUBCASE("user:password in the URL") {
    a.toml["upstream"]["urls"] = "[\"tls://user:pass@127.0.0.1:" + std::to_string(hub.leaf_port) + "\"]";
    expect_refused(a, 3, "must not carry a user or password", {}, "pass@");
  }
  SUBCASE("listen on 0.0.0.0") {
    a.toml["local"]["listen"] = "\"0.0.0.0:4222\"";
    expect_refused(a, 3, "local.listen = \"0.0.0.0:4222\" is not a loopback address");
  }
  SUBCASE("missing CA file") {
    a.toml["upstream"]["ca_file"] = AgentSetup::quote(a.dir / "missing-ca.pem");
    expect_refused(a, 3, "missing-ca.pem");
  }
  // `run` checks its TLS files' shape only (core/pem.hpp, no OpenSSL); nats-server, reading the
  // same files, refuses what passes the shape but is not what it claims, and that refusal is
  // still exit 3 with nothing left behind.
  SUBCASE("a CA file holding a key, not a certificate") {
    write_file(a.dir / "key-as-ca.pem", read_file(hub.file("hub/ca-key.pem")));
    a.toml["upstream"]["ca_file"] = AgentSetup::quote(a.dir / "key-as-ca.pem");
    expect_refused(a, 3, "key-as-ca.pem: no PEM certificate found", {}, "PRIVATE KEY");
  }
  SUBCASE("a CA file whose certificate is well-formed PEM but no certificate") {
    write_file(a.dir / "empty-seq.pem", "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n");
    a.toml["upstream"]["ca_file"] = AgentSetup::quote(a.dir / "empty-seq.pem");
    expect_refused(a, 3, "failed to parse root ca certificate; upstream.ca_file holds no certificate nats-server can use");
  }
  SUBCASE("a client certificate and a key that do not match") {
    const auto ca = leaf::pki::make_ca("client CA", 7);
    const auto one = leaf::pki::make_cert(ca, "one", {"leaf"}, false, true, 7);
    const auto two = leaf::pki::make_cert(ca, "two", {"leaf"}, false, true, 7);
    write_file(a.dir / "client.pem", one.cert_pem);
    write_file(a.dir / "client.key", two.key_pem, 0600);
    a.toml["upstream"]["cert_file"] = AgentSetup::quote(a.dir / "client.pem");
    a.toml["upstream"]["key_file"] = AgentSetup::quote(a.dir / "client.key");
    expect_refused(a, 3, "private key does not match public key; check upstream.cert_file and upstream.key_file", {},
                   two.key_pem.substr(40, 20));
  }
  SUBCASE("the health port is taken") {
    SilentPort taken;
    a.toml["agent"]["health_listen"] = AgentSetup::quote("127.0.0.1:" + std::to_string(taken.port));
    expect_refused(a, 3, "agent.health_listen: cannot listen on 127.0.0.1:" + std::to_string(taken.port));
  }
  SUBCASE("malformed TOML") {
    a.toml["upstream"]["urls"] = "[\"tls://x:7422\"";  // unterminated array
    expect_refused(a, 3, "malformed TOML");
  }
  SUBCASE("unknown key, with the nearest valid one") {
    a.toml["upstream"]["ca_flie"] = "\"x\"";
    expect_refused(a, 3, "unknown key upstream.ca_flie (did you mean upstream.ca_file?)");
  }
  SUBCASE("an injection attempt in a URL") {
    a.toml["upstream"]["urls"] = "[\"tls://127.0.0.1:7422\\\"}\\nlisten: 0.0.0.0:4222\"]";
    expect_refused(a, 3, "upstream URL");
  }
  SUBCASE("unknown environment variable") {
    expect_refused(a, 3, "unknown variable LEAF_AGENT_UPSTREAM_URL (did you mean LEAF_AGENT_UPSTREAM_URLS?)",
                   {{"LEAF_AGENT_UPSTREAM_URL", "tls://x:1"}});
  }
}

TEST_CASE("the hub refusing the credentials: a clear error naming user and account, exit 4") {
  Hub hub;
  TempDir other;
  AgentSetup a(hub);
  a.use_untrusted_creds(other);
  a.toml["agent"]["ready_timeout"] = "\"3s\"";
  const Result r = agent({"run", "-c", a.write_config()}, {}, "", 60s);
  CHECK(r.code == 4);
  const std::string account = read_file(other / "hub/lattice.pub").substr(0, 56);
  CHECK(r.err.find("leaf-agent: the upstream refused the leaf credentials (Authorization Violation) for user U") !=
        std::string::npos);
  CHECK(r.err.find("of account " + account) != std::string::npos);
  CHECK(r.err.find("ready: leaf connected") == std::string::npos);  // never declared ready
  CHECK(file_mode(a.state("ready")) == -1);
}

TEST_CASE("a hub that sends its INFO and then rejects the leaf (leafnodes.min_version): never ready, exit 7 naming the rejection") {
  Hub hub;
  hub.stop();
  std::string conf = read_file(hub.file("hub/hub.conf"));
  const auto at = conf.find("leafnodes {\n");
  REQUIRE(at != std::string::npos);
  const auto leaf = nats_version_of(leaf_nats());
  REQUIRE(leaf[0] == 2);
  const std::string above = "2." + std::to_string(leaf[1] + 1) + ".0";  // above the leaf's release
  conf.insert(at + 12, "  min_version: \"" + above + "\"\n");
  write_file(hub.file("hub/hub.conf"), conf);
  hub.start();
  AgentSetup a(hub);
  a.toml["agent"]["ready_timeout"] = "\"4s\"";
  const Result r = agent({"run", "-c", a.write_config()}, {}, "", 60s);
  CHECK(r.code == 7);
  // The acceptance line came (2.9's wording, or 2.10+'s)...
  CHECK((r.err.find("JetStream Not Extended") != std::string::npos || r.err.find("JetStream using domains") != std::string::npos));
  CHECK(r.err.find("ready: leaf connected") == std::string::npos);   // ...and was not taken for acceptance
  CHECK(r.err.find("leaf-agent: not ready within agent.ready_timeout (4 s): the upstream rejected the leaf connection") !=
        std::string::npos);
  CHECK(r.err.find("minimum version required") != std::string::npos);
  CHECK(file_mode(a.state("ready")) == -1);
}

TEST_CASE("upstream problems: diagnosed in one line") {
  SUBCASE("unreachable: times out with the TCP reason, exit 5") {
    Hub hub;
    AgentSetup a(hub);
    a.toml["upstream"]["urls"] = "[\"tls://127.0.0.1:" + std::to_string(free_port()) + "\"]";
    a.toml["agent"]["ready_timeout"] = "\"2s\"";
    expect_refused(a, 5, "upstream unreachable: TCP: connection refused 127.0.0.1:");
  }
  SUBCASE("TLS name mismatch, exit 5") {
    Hub hub({"hub.other.example"});
    AgentSetup a(hub);
    a.toml["agent"]["ready_timeout"] = "\"2s\"";
    expect_refused(a, 5, "TLS: certificate name mismatch");
  }
}

namespace {
// An agent whose credentials come from a local HTTPS endpoint (which can be made slow).
struct HttpCredsSetup {
  Hub hub;
  CredsEndpoint endpoint;
  HttpsServer* server = endpoint.server.get();
  std::unique_ptr<AgentSetup> a;
  const std::map<std::string, std::string> no_proxy = AgentSetup::no_proxy();
  HttpCredsSetup() {
    server->respond(200, read_file(hub.file("hub/leaf.creds")), "text/plain");
    a = std::make_unique<AgentSetup>(hub);
    a->use_http_source(endpoint);
  }
};}  // namespace

TEST_CASE("prewarm: nats-server exec'd during the bootstrap gets its config whether it opens the path before or after the hand-over") {
  HttpCredsSetup h;
  AgentSetup& a = *h.a;
  std::string order;
  SUBCASE("before: a slow credentials endpoint, nats-server waits on the FIFO") {
    order = "fifo";
    h.server->delay(600ms);
  }
  SUBCASE("after: nats-server slow to start opens the regular file the bootstrap renamed over the FIFO") {
    order = "file";
    write_file(a.dir / "slow-nats", "#!/bin/sh\nsleep 0.6\nexec nats-server \"$@\"\n", 0755);
    a.toml["agent"]["nats_server"] = AgentSetup::quote(a.dir / "slow-nats");
  }
  CAPTURE(order);
  auto p = a.start({}, h.no_proxy);
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  CHECK(p->err().find("exec'd during the bootstrap, config handed over now") != std::string::npos);
  // A regular file from then on: what a reload or a restart reads.
  struct stat st {};
  REQUIRE(::lstat(a.state("nats.conf").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(file_mode(a.state("nats.conf.fifo")) == -1);
  const pid_t nats = a.status()["nats_server"]["pid"].get<pid_t>();
  REQUIRE(nats > 0);
  ::kill(nats, SIGHUP);  // nats-server reloads its config from the path
  CHECK(wait_until([&] { return p->err().find("Reloaded server configuration") != std::string::npos; }, 10s));
  CHECK(a.ready());
  CHECK(p->stop() == 0);
  // The next start moves this nats.conf aside for its FIFO, and removes it once its own is written.
  auto again = a.start({}, h.no_proxy);
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), again->err());
  CHECK(wait_until([&] { return state_entries(a) == std::set<std::string>{"agent.lock", "nats.conf", "ready", "upstream.creds"}; }, 5s));
  CHECK(again->stop() == 0);
}

TEST_CASE("prewarm: kill -9 of the agent while nats-server waits for its config leaves nothing running or listening") {
  HttpCredsSetup h;
  AgentSetup& a = *h.a;
  h.server->delay(3000ms);
  // A last start's nats.conf, which the prewarm moves aside under a temporary name.
  REQUIRE(::mkdir(a.state("").c_str(), 0700) == 0);
  write_file(a.state("nats.conf"), "# the last start's\n", 0600);
  auto p = a.start({}, h.no_proxy);
  REQUIRE(wait_until([&] { return !pids_with(a.state("nats.conf")).empty(); }, 10s));
  std::this_thread::sleep_for(300ms);  // nats-server is up to its config read, on the FIFO
  p->signal(SIGKILL);
  p->wait(10s);
  CHECK(wait_until([&] { return pids_with(a.state("nats.conf")).empty(); }, 10s));  // its parent-death signal
  CHECK_FALSE(nats_connect(a.local_url(), "", "", 300)->ok());
  const auto left = state_entries(a);  // the lock, the FIFO at nats.conf, the last start's config moved aside
  CHECK(left.size() == 3);
  CHECK(std::any_of(left.begin(), left.end(), [](const std::string& n) { return n.rfind("nats.conf.tmp.", 0) == 0; }));
  // The FIFO and the moved-aside config a kill -9 leaves are cleared by the next start.
  h.server->delay(0ms);
  const Result init = agent({"init", "-c", a.config_path()}, h.no_proxy);
  REQUIRE_MESSAGE(init.code == 0, init.err);
  struct stat st {};
  REQUIRE(::lstat(a.state("nats.conf").c_str(), &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(state_entries(a) == std::set<std::string>{"agent.lock", "nats.conf", "upstream.creds"});
}
