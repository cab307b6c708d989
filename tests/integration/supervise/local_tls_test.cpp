// local.auth = "tls": the leaf's client port requires TLS with a client certificate of the local
// CA the agent made at start (wasmCloud 2.x hosts). A real dev hub, the agent's real leaf
// nats-server, the 2.x host stand-in (tests/container/wash-standin.cpp) and real nats.c clients.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "agent/preflight/pki.hpp"
#include "agent_support.hpp"
#include "leaf_traffic.hpp"

using namespace harness;

namespace {

const std::vector<std::string> kTlsFiles = {"local-ca.pem", "local-server-cert.pem", "local-server-key.pem", "host-cert.pem",
                                            "host-key.pem", "health-cert.pem", "health-key.pem"};

std::string tls_url(const AgentSetup& a) { return "tls://127.0.0.1:" + std::to_string(a.listen); }

// A nats.c client over TLS: `ca` to verify the server, `cert`/`key` to present (both or none),
// `creds` for a JWT (the upstream's). A plain nats:// client when `ca` is empty.
std::unique_ptr<NatsConn> tls_connect(const std::string& url, const std::string& ca, const std::string& cert = "",
                                      const std::string& key = "", const std::string& creds = "") {
  auto c = std::make_unique<NatsConn>();
  natsOptions* o = nullptr;
  natsOptions_Create(&o);
  natsOptions_SetURL(o, url.c_str());
  natsOptions_SetTimeout(o, 3000);
  natsOptions_SetAllowReconnect(o, false);
  if (!ca.empty()) {
    natsOptions_SetSecure(o, true);
    natsOptions_LoadCATrustedCertificates(o, ca.c_str());
  }
  if (!cert.empty()) natsOptions_LoadCertificatesChain(o, cert.c_str(), key.c_str());
  if (!creds.empty()) natsOptions_SetUserCredentialsFromFiles(o, creds.c_str(), nullptr);
  c->status = natsConnection_Connect(&c->conn, o);
  natsOptions_Destroy(o);
  if (c->status != NATS_OK) {
    c->error = nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : natsStatus_GetText(c->status);
    c->conn = nullptr;
  }
  return c;
}

// The 2.x host as `wash host` is started behind the agent: its flags from the agent's variables.
std::vector<std::string> wash_host(const std::string& echo_subject) {
  return {"sh", "-c",
          "exec \"$0\" host --host-group leaf --scheduler-nats-url \"$NATS_URL\" --scheduler-nats-tls-ca \"$NATS_CA_FILE\" "
          "--scheduler-nats-tls-cert \"$NATS_CERT_FILE\" --scheduler-nats-tls-key \"$NATS_KEY_FILE\" "
          "--data-nats-url \"$NATS_URL\" --data-nats-tls-ca \"$NATS_CA_FILE\" --data-nats-tls-cert \"$NATS_CERT_FILE\" "
          "--data-nats-tls-key \"$NATS_KEY_FILE\" --echo " + echo_subject,
          WASH_STANDIN_BIN};
}

// The body of a PEM file without its armour: what must never show up in any output.
std::string pem_body(const std::string& path) {
  std::string s = read_file(path), out;
  for (size_t i = 0; i < s.size();) {
    const size_t eol = s.find('\n', i);
    const std::string line = s.substr(i, eol == std::string::npos ? std::string::npos : eol - i);
    if (line.rfind("-----", 0) != 0) out += line;
    if (eol == std::string::npos) break;
    i = eol + 1;
  }
  return out.substr(0, 40);
}

}  // namespace

TEST_CASE("local.auth = tls: a wasmCloud 2.x host stand-in round-trips through a TLS-only local port") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"tls\"";
  auto agent = a.start(wash_host("svc.local"), {{"WASH_STANDIN_HEARTBEAT_MS", "200"}});
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  REQUIRE_MESSAGE(wait_until([&] { return agent->out().find("wash-standin: host") != std::string::npos; }, 10s),
                  (agent->out() + agent->err()));
  CHECK(agent->out().find("client certificate") != std::string::npos);

  // The host's files (and the server's, the check's) are 0600 in the 0700 state_dir.
  for (const auto& f : kTlsFiles) CHECK_MESSAGE(file_mode(a.state(f)) == 0600, f);
  CHECK(file_mode(a.dir / "state") == 0700);
  const std::string ca = a.state("local-ca.pem"), cert = a.state("host-cert.pem"), key = a.state("host-key.pem");

  // Hub -> leaf -> host and back: a hub-side request answered by the stand-in's data connection,
  // and its heartbeats (scheduler connection) reach the hub.
  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE(hub_client->ok());
  natsSubscription* beats = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&beats, hub_client->conn, "runtime.operator.heartbeat.>") == NATS_OK);
  natsConnection_Flush(hub_client->conn);
  CHECK(request(hub_client->conn, "svc.local", "hello") == "echo: hello");
  natsMsg* beat = nullptr;
  CHECK(natsSubscription_NextMsg(&beat, beats, 5000) == NATS_OK);
  if (beat) {
    CHECK(std::string(natsMsg_GetData(beat), natsMsg_GetDataLength(beat)).find("\"hostgroup\":\"leaf\"") != std::string::npos);
    natsMsg_Destroy(beat);
  }
  natsSubscription_Destroy(beats);

  // A client with the host's files does what the host does: local -> hub request.
  auto host = tls_connect(tls_url(a), ca, cert, key);
  REQUIRE_MESSAGE(host->ok(), (host->error + "\n" + agent->err()));
  natsSubscription* sub = nullptr;
  REQUIRE(natsConnection_Subscribe(&sub, hub_client->conn, "svc.hub", on_msg_echo, nullptr) == NATS_OK);
  natsConnection_Flush(hub_client->conn);
  CHECK(request(host->conn, "svc.hub", "ping") == "ping");
  natsSubscription_Destroy(sub);

  // Refused: anonymous plain text, the upstream's credentials (plain, and over TLS without a
  // certificate), TLS without a client certificate, a certificate of another CA (for the same
  // user name), and the host's certificate with a CA that does not know the server.
  CHECK_FALSE(nats_connect(a.local_url())->ok());
  CHECK_FALSE(nats_connect(a.local_url(), hub.file("hub/client.creds"))->ok());
  CHECK_FALSE(tls_connect(tls_url(a), ca, "", "", hub.file("hub/client.creds"))->ok());
  CHECK_FALSE(tls_connect(tls_url(a), ca)->ok());
  const auto other_ca = leaf::pki::make_ca("another CA", 1);
  const auto other = leaf::pki::make_cert(other_ca, "leaf-agent host", {"host@leaf-agent.local"}, false, true, 1);
  write_file(a.dir / "other-cert.pem", other.cert_pem, 0600);
  write_file(a.dir / "other-key.pem", other.key_pem, 0600);
  write_file(a.dir / "other-ca.pem", other_ca.cert_pem, 0600);
  const auto foreign = tls_connect(tls_url(a), ca, a.dir / "other-cert.pem", a.dir / "other-key.pem");
  CHECK_FALSE(foreign->ok());
  CHECK_FALSE(tls_connect(tls_url(a), a.dir / "other-ca.pem", cert, key)->ok());
  // And the hub does not take the local certificate in place of its credentials.
  CHECK_FALSE(tls_connect(hub.client_url(), hub.file("hub/ca.pem"), cert, key)->ok());

  // /status names the boundary; `health` and `wait` answer.
  const auto st = a.status();
  CHECK(st["local"]["auth"]["mode"] == "tls");
  CHECK(st["local"]["auth"]["url"] == tls_url(a));
  CHECK(st["local"]["auth"]["cert_file"] == cert);
  CHECK(st["local"]["auth"]["ca_sha256"].get<std::string>().size() == 95);
  CHECK(st["checks"]["client"]["detail"].get<std::string>().find("TLS") != std::string::npos);
  CHECK(harness::agent({"health", "-c", a.config_path()}).code == 0);

  // The config names files, never key material; no key reaches the agent's output.
  const std::string conf = read_file(a.state("nats.conf"));
  CHECK(conf.find("verify_and_map: true") != std::string::npos);
  CHECK(conf.find("PRIVATE KEY") == std::string::npos);
  for (const char* f : {"host-key.pem", "health-key.pem", "local-server-key.pem"}) {
    const std::string body = pem_body(a.state(f));
    CHECK(agent->err().find(body) == std::string::npos);
    CHECK(agent->out().find(body) == std::string::npos);
  }

  // Stopping ends the boundary: every file goes (the host first, then the leaf).
  host.reset();
  CHECK(agent->stop(20s) == 0);
  CHECK(agent->out().find("wash-standin: stopping on signal 15") != std::string::npos);
  for (const auto& f : kTlsFiles) CHECK_MESSAGE(file_mode(a.state(f)) == -1, f);
}

TEST_CASE("local.auth = tls: a restart makes a new CA - the old host certificate is refused") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"tls\"";
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  for (const char* f : {"local-ca.pem", "host-cert.pem", "host-key.pem"}) {
    write_file(a.dir / (std::string("old-") + f), read_file(a.state(f)), 0600);
  }
  CHECK(tls_connect(tls_url(a), a.dir / "old-local-ca.pem", a.dir / "old-host-cert.pem", a.dir / "old-host-key.pem")->ok());
  CHECK(agent->stop(20s) == 0);

  agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  CHECK_FALSE(tls_connect(tls_url(a), a.state("local-ca.pem"), a.dir / "old-host-cert.pem", a.dir / "old-host-key.pem")->ok());
  CHECK(tls_connect(tls_url(a), a.state("local-ca.pem"), a.state("host-cert.pem"), a.state("host-key.pem"))->ok());
}

TEST_CASE("local.auth = tls: the host's local permissions are enforced by the leaf") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"tls\"";
  a.toml["local"]["host_pub_deny"] = "[\"secret.>\"]";
  a.toml["local"]["host_sub_allow"] = "[\"open.>\", \"_INBOX.>\"]";
  auto agent = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), agent->err());
  auto host = tls_connect(tls_url(a), a.state("local-ca.pem"), a.state("host-cert.pem"), a.state("host-key.pem"));
  REQUIRE_MESSAGE(host->ok(), (host->error + "\n" + agent->err()));
  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  REQUIRE(hub_client->ok());

  // Publish: the hub sees open.*, never secret.*.
  const PublishSeen seen = publish_through_leaf(host->conn, hub_client->conn, "open.x", "secret.x", "open.y");
  REQUIRE(seen.open);
  CHECK(seen.after);
  CHECK_FALSE(seen.denied);
  natsMsg* msg = nullptr;

  // Subscribe: allowed open.>, refused other.> (a message published to it never arrives).
  natsSubscription *allowed = nullptr, *refused = nullptr;
  REQUIRE(natsConnection_SubscribeSync(&allowed, host->conn, "open.in") == NATS_OK);
  natsConnection_SubscribeSync(&refused, host->conn, "other.in");
  natsConnection_Flush(host->conn);
  bool in_seen = false;
  for (int i = 0; i < 50 && !in_seen; ++i) {
    natsConnection_PublishString(hub_client->conn, "open.in", "x");
    natsConnection_PublishString(hub_client->conn, "other.in", "x");
    natsConnection_Flush(hub_client->conn);
    in_seen = natsSubscription_NextMsg(&msg, allowed, 100) == NATS_OK;
    if (in_seen) natsMsg_Destroy(msg);
  }
  CHECK(in_seen);
  if (refused) {
    CHECK(natsSubscription_NextMsg(&msg, refused, 500) != NATS_OK);
    natsSubscription_Destroy(refused);
  }
  natsSubscription_Destroy(allowed);

  const auto perms = a.status()["local"]["auth"]["host_permissions"];
  CHECK(perms["pub"]["deny"] == nlohmann::json::array({"secret.>"}));
  CHECK(perms["sub"]["allow"] == nlohmann::json::array({"open.>", "_INBOX.>"}));
  CHECK(read_file(a.state("nats.conf")).find("subscribe: { allow: [\"open.>\", \"_INBOX.>\"] }") != std::string::npos);
}

TEST_CASE("local.auth = tls: init writes a config nats-server accepts - a template without the tls block is refused") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"tls\"";
  a.toml["local"]["host_pub_allow"] = "[\"a.>\", \"b\"]";
  a.toml["local"]["host_sub_deny"] = "[\"c.*\"]";
  const Result init = harness::agent({"init", "-c", a.write_config()});
  REQUIRE_MESSAGE(init.code == 0, init.err);
  const Result t = run({leaf_nats(), "-t", "-c", a.state("nats.conf")});
  CHECK_MESSAGE(t.code == 0, (t.out + t.err));
  // init leaves the files for the server that will run them (another container).
  for (const auto& f : kTlsFiles) CHECK_MESSAGE(file_mode(a.state(f)) == 0600, f);

  const Result render = harness::agent({"render", "-c", a.config_path()});
  CHECK(render.code == 0);
  CHECK(render.out.find("verify_and_map: true") != std::string::npos);
  CHECK(render.out.find("publish: { allow: [\"a.>\", \"b\"] }") != std::string::npos);
  CHECK(render.out.find("subscribe: { deny: [\"c.*\"] }") != std::string::npos);

  // A custom template without the TLS boundary is refused rather than run open.
  const std::string tmpl = a.dir / "open.tmpl";
  write_file(tmpl, "listen: \"{{listen}}\"\n", 0644);
  a.toml["agent"]["template"] = AgentSetup::quote(tmpl);
  const Result refused = harness::agent({"render", "-c", a.write_config()});
  CHECK(refused.code == 3);
  CHECK(refused.err.find("leaves out the local TLS boundary") != std::string::npos);
  CHECK(refused.err.find('\n') == refused.err.size() - 1);  // one line
}

TEST_CASE("run --dev with local.auth = tls: the same boundary on a laptop, JetStream included") {
  TempDir d;
  const int listen = free_port(), monitor = free_port(), health = free_port();
  Process agent({agent_bin(), "run", "--dev", "--state-dir", d / "state", "--listen", "127.0.0.1:" + std::to_string(listen),
                 "--monitor", "127.0.0.1:" + std::to_string(monitor), "--health-listen", "127.0.0.1:" + std::to_string(health),
                 "--local-auth", "tls"});
  const std::string readyz = "http://127.0.0.1:" + std::to_string(health) + "/readyz";
  REQUIRE_MESSAGE(wait_until([&] { return http_get(readyz).status == 200; }, 30s), agent.err());
  const std::string url = "tls://127.0.0.1:" + std::to_string(listen);
  CHECK_FALSE(nats_connect("nats://127.0.0.1:" + std::to_string(listen))->ok());
  auto c = tls_connect(url, d / "state/local-ca.pem", d / "state/host-cert.pem", d / "state/host-key.pem");
  REQUIRE_MESSAGE(c->ok(), c->error);
  const std::string info = request(c->conn, "$JS.API.INFO", "");
  CHECK(info.find("account_info_response") != std::string::npos);
  CHECK(info.find("\"error\"") == std::string::npos);
  CHECK(agent.stop(20s) == 0);
  CHECK(file_mode(d / "state/host-key.pem") == -1);
}
