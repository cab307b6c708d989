// leaf::http_source against a real HTTPS server on 127.0.0.1 (tests/support/https_server) with a
// throwaway CA from leaf::pki: body shapes, bearer token, HTTP/TLS/connect errors, retry.
#include <doctest/doctest.h>

#include "agent/core/creds.hpp"
#include "agent/core/error.hpp"
#include "agent/sources/http_source.hpp"
#include "agent/preflight/pki.hpp"
#include "support/https_server.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace {

using leaf::http_source::Request;
using namespace std::chrono_literals;

const std::string kJwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJmYWtlIjp0cnVlLCJuYW1lIjoibGVhZiJ9."
    "ZmFrZS1zaWduYXR1cmUtZm9yLXRlc3RzLW9ubHk";
const std::string kSeed = "SUAFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAK";

std::string fake_creds() {
  const leaf::SecretString s = leaf::creds::format(kJwt, kSeed);
  return std::string(s.begin(), s.end());
}

class Dir {
 public:
  Dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/leaf-http-source.XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  }

 private:
  std::string path_;
};

// The tests talk to 127.0.0.1 only; a proxy from the environment must not get in the way.
void bypass_proxy_for_loopback() {
  for (const char* var : {"no_proxy", "NO_PROXY"}) {
    const char* cur = std::getenv(var);
    std::string v = cur ? cur : "";
    if (v.find("127.0.0.1") == std::string::npos) {
      v += std::string(v.empty() ? "" : ",") + "127.0.0.1,localhost";
      ::setenv(var, v.c_str(), 1);
    }
  }
}

struct Fixture {
  bool loopback_direct = (bypass_proxy_for_loopback(), true);
  Dir dir;
  leaf::pki::Pem ca = leaf::pki::make_ca("http source test CA", 1);
  leaf::pki::Pem cert = leaf::pki::make_cert(ca, "localhost", {"localhost", "127.0.0.1"}, true, false, 1);
  std::string ca_file = dir.write("ca.pem", ca.cert_pem);
  std::string cert_file = dir.write("server.pem", cert.cert_pem);
  std::string key_file = dir.write("server-key.pem", cert.key_pem);
  harness::HttpsServer server{cert_file, key_file};

  std::string base() const { return "https://127.0.0.1:" + std::to_string(server.port()); }

  Request request(const std::string& path = "/creds") const {
    Request r;
    r.url = base() + path;
    r.ca_file = ca_file;
    r.timeout = 5s;
    r.attempts = 1;
    r.backoff = 10ms;
    return r;
  }
};

std::string str(const leaf::SecretString& s) { return std::string(s.begin(), s.end()); }

struct Caught {
  leaf::Exit code = leaf::Exit::ok;
  std::string message;
};

Caught error_of(const Request& r) {
  try {
    (void)leaf::http_source::fetch(r);
  } catch (const leaf::Error& e) {
    return {e.code(), e.what()};
  }
  return {leaf::Exit::ok, "(no error)"};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("http source: plain .creds body is returned as is") {
  Fixture f;
  f.server.respond(200, fake_creds(), "text/plain");
  CHECK(str(leaf::http_source::fetch(f.request())) == fake_creds());
  CHECK(f.server.requests() == 1);
  CHECK(f.server.last_authorization().empty());
}

TEST_CASE("http source: JSON {\"creds\": ...} body") {
  Fixture f;
  f.server.respond(200, nlohmann::json{{"creds", fake_creds()}}.dump());
  CHECK(str(leaf::http_source::fetch(f.request())) == fake_creds());
}

TEST_CASE("http source: Vault KV v2 shape with a JSON pointer") {
  Fixture f;
  const nlohmann::json doc = {{"request_id", "x"},
                              {"data", {{"data", {{"creds", fake_creds()}}}, {"metadata", {{"version", 3}}}}}};
  f.server.respond(200, doc.dump());
  Request r = f.request("/v1/secret/data/leaf");
  r.json_pointer = "/data/data/creds";
  CHECK(str(leaf::http_source::fetch(r)) == fake_creds());

  SUBCASE("the pointer may name an object with jwt and seed") {
    f.server.respond(200, nlohmann::json{{"data", {{"data", {{"jwt", kJwt}, {"seed", kSeed}}}}}}.dump());
    r.json_pointer = "/data/data";
    CHECK(str(leaf::http_source::fetch(r)) == fake_creds());
  }
}

TEST_CASE("http source: {\"jwt\", \"seed\"} object is formatted as .creds text") {
  Fixture f;
  f.server.respond(200, nlohmann::json{{"jwt", kJwt}, {"seed", kSeed}}.dump());
  CHECK(str(leaf::http_source::fetch(f.request())) == str(leaf::creds::format(kJwt, kSeed)));
}

TEST_CASE("http source: bearer token is read from token_file and trimmed") {
  Fixture f;
  f.server.respond(200, fake_creds(), "text/plain");
  Request r = f.request();
  r.token_file = f.dir.write("token", "  s.fakeVaultToken123 \n");
  CHECK(str(leaf::http_source::fetch(r)) == fake_creds());
  CHECK(f.server.last_authorization() == "Bearer s.fakeVaultToken123");

  SUBCASE("read again at each fetch") {
    f.dir.write("token", "rotated-token\n");
    (void)leaf::http_source::fetch(r);
    CHECK(f.server.last_authorization() == "Bearer rotated-token");
  }
  SUBCASE("missing or empty token file") {
    r.token_file = f.dir.write("empty-token", " \n");
    Caught c = error_of(r);
    CHECK(c.code == leaf::Exit::credentials);
    CHECK(contains(c.message, "is empty"));
    r.token_file = "/nonexistent/token";
    c = error_of(r);
    CHECK(c.code == leaf::Exit::credentials);
    CHECK(contains(c.message, "/nonexistent/token"));
  }
}

TEST_CASE("http source: HTTP 403 is reported once, without retry or query string") {
  Fixture f;
  f.server.respond(403, "{\"errors\":[\"permission denied\"]}");
  Request r = f.request("/v1/creds?role=leaf");
  r.attempts = 4;
  const Caught c = error_of(r);
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(c.message == "credentials endpoint: HTTP 403 from " + f.base() + "/v1/creds");
  CHECK(f.server.requests() == 1);
}

TEST_CASE("http source: bad bodies") {
  Fixture f;
  Request r = f.request();
  Caught c;

  SUBCASE("not JSON with a pointer") {
    f.server.respond(200, "<html><body>" + fake_creds() + "</body></html>", "text/html");
    r.json_pointer = "/data/data/creds";
    r.attempts = 3;
    c = error_of(r);
    CHECK(contains(c.message, "credentials endpoint: bad body: not JSON"));
    CHECK(f.server.requests() == 1);
  }
  SUBCASE("pointer not found") {
    f.server.respond(200, R"({"data":{"data":{}}})");
    r.json_pointer = "/data/data/creds";
    c = error_of(r);
    CHECK(c.message == "credentials endpoint: bad body: JSON pointer /data/data/creds not found");
  }
  SUBCASE("JSON object without creds or jwt+seed") {
    f.server.respond(200, nlohmann::json{{"jwt", kJwt}, {"secret", kSeed}}.dump());
    c = error_of(r);
    CHECK(contains(c.message, "credentials endpoint: bad body: "));
    CHECK(contains(c.message, "neither"));
  }
  SUBCASE("pointer names a number") {
    f.server.respond(200, R"({"data":{"data":{"creds":42}}})");
    r.json_pointer = "/data/data/creds";
    c = error_of(r);
    CHECK(contains(c.message, "credentials endpoint: bad body: /data/data/creds is a JSON number"));
  }
  SUBCASE("empty") {
    f.server.respond(200, " \r\n", "text/plain");
    c = error_of(r);
    CHECK(c.message == "credentials endpoint: bad body: empty response");
  }
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(!contains(c.message, kSeed));
  CHECK(!contains(c.message, kJwt));
}

TEST_CASE("http source: 503 twice then 200 succeeds on the third attempt") {
  Fixture f;
  f.server.respond(200, fake_creds(), "text/plain");
  f.server.fail_next(2, 503);
  Request r = f.request();
  r.attempts = 4;
  CHECK(str(leaf::http_source::fetch(r)) == fake_creds());
  CHECK(f.server.requests() == 3);
}

TEST_CASE("http source: retries exhausted report the last reason and the attempt count") {
  Fixture f;
  f.server.fail_next(100, 429);
  Request r = f.request();
  r.attempts = 3;
  const Caught c = error_of(r);
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(c.message == "credentials endpoint: HTTP 429 from " + f.base() + "/creds (after 3 attempts)");
  CHECK(f.server.requests() == 3);
}

TEST_CASE("http source: a server certificate from another CA fails verification, no retry") {
  Fixture f;
  const leaf::pki::Pem other = leaf::pki::make_ca("some other CA", 1);
  f.server.respond(200, fake_creds(), "text/plain");
  Request r = f.request();
  r.ca_file = f.dir.write("other-ca.pem", other.cert_pem);
  r.attempts = 3;
  const Caught c = error_of(r);
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(contains(c.message, "credentials endpoint: TLS: certificate verify failed for 127.0.0.1 ("));
  CHECK(!contains(c.message, "attempts"));
  CHECK(f.server.requests() == 0);
  CHECK(f.server.connections() == 1);
}

TEST_CASE("http source: client certificate") {
  Fixture f;
  f.server.respond(200, fake_creds(), "text/plain");
  f.server.require_client_cert(f.ca_file);
  const leaf::pki::Pem client = leaf::pki::make_cert(f.ca, "leaf-agent", {"leaf-agent"}, false, true, 1);
  Request r = f.request();
  r.attempts = 2;

  SUBCASE("presented") {
    r.cert_file = f.dir.write("client.pem", client.cert_pem);
    r.key_file = f.dir.write("client-key.pem", client.key_pem);
    CHECK(str(leaf::http_source::fetch(r)) == fake_creds());
    CHECK(f.server.requests() == 1);
  }
  SUBCASE("missing: refused by the server, not retried") {
    const Caught c = error_of(r);
    CHECK(c.code == leaf::Exit::credentials);
    CHECK(contains(c.message, "credentials endpoint: "));
    CHECK(f.server.requests() == 0);
    CHECK(f.server.connections() == 1);
  }
}

TEST_CASE("http source: connection refused on an unused port") {
  // Bound but not listening: the kernel answers with RST and nobody else can take the port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  bypass_proxy_for_loopback();

  Request r;
  r.url = "https://127.0.0.1:" + port + "/creds";
  r.attempts = 2;
  r.backoff = 10ms;
  r.timeout = 5s;
  const Caught c = error_of(r);
  ::close(fd);
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(contains(c.message, "credentials endpoint: connect failed to 127.0.0.1:" + port + ": "));
  CHECK(contains(c.message, " (after 2 attempts)"));
}

TEST_CASE("http source: a slow server times out") {
  Fixture f;
  f.server.respond(200, fake_creds(), "text/plain");
  f.server.delay(3s);
  Request r = f.request();
  r.timeout = 250ms;
  const Caught c = error_of(r);
  CHECK(c.code == leaf::Exit::credentials);
  CHECK(c.message == "credentials endpoint: timed out after 0.25s");
}

TEST_CASE("http source: bad requests are configuration errors") {
  Request r;
  auto config_message = [&r] {
    try {
      leaf::http_source::check(r);
    } catch (const leaf::Error& e) {
      CHECK(e.code() == leaf::Exit::config);
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  r.url = "http://127.0.0.1:1/creds";
  CHECK(config_message() == "credentials.url must be https://");
  const Caught c = error_of(r);
  CHECK(c.code == leaf::Exit::config);
  CHECK(c.message == "credentials.url must be https://");

  r.url = "127.0.0.1/creds";
  CHECK(config_message() == "credentials.url must be https://");
  r.url = "https://user:secret@127.0.0.1:1/creds";
  CHECK(contains(config_message(), "user:pass@"));
  r.url = "https://127.0.0.1:1/creds";
  r.json_pointer = "data/creds";
  CHECK(contains(config_message(), "credentials.json_pointer"));
  r.json_pointer = "";
  r.attempts = 0;
  CHECK(contains(config_message(), "attempts"));
  r.attempts = 1;
  CHECK(config_message() == "(no error)");
}
