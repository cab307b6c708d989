// leaf::preflight::probe against real processes on loopback: nats-server leafnode and websocket
// ports with certificates from leaf::pki, a refused port, a silent TCP listener, and a .invalid
// name. Self-contained (no harness): every process and socket the test opens is closed by a
// destructor, so a failing CHECK or REQUIRE leaks nothing.
#include "agent/preflight/preflight.hpp"

#include "agent/preflight/pki.hpp"
#include "support/harness.hpp"

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using leaf::preflight::probe;
using leaf::preflight::Tls;

namespace {

using Clock = std::chrono::steady_clock;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// A mkdtemp directory removed with its contents when the object dies.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/preflight-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A socket closed when the object dies.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// A TCP socket bound to 127.0.0.1 on a kernel-chosen port; listening when `listen` is set.
std::unique_ptr<Fd> bound_socket(bool listen) {
  auto s = std::make_unique<Fd>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(s->fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(s->fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  if (listen) REQUIRE(::listen(s->fd, 16) == 0);
  return s;
}

int port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

using harness::free_port;  // one port picker for every test: below the ephemeral range

bool accepts_tcp(int port) {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  return s.fd >= 0 && ::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

// Full path of `name` on $PATH ("" if absent), resolved before fork so the child only execs.
std::string which(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A nats-server with `config`, output to a log file; TERM then KILL when the object dies. The
// child also gets SIGKILL should this test process die first.
class NatsServer {
 public:
  NatsServer(const TempDir& dir, const std::string& name, const std::string& config) {
    const std::string bin = harness::hub_nats().find('/') == std::string::npos ? which(harness::hub_nats()) : harness::hub_nats();
    REQUIRE_MESSAGE(!bin.empty(), "nats-server not found on PATH");
    const std::string conf = dir.write(name + ".conf", config);
    log_ = dir.file(name + ".log");
    const std::vector<std::string> argv{bin, "-c", conf};
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(127);
      const int out = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      ::execv(args[0], args.data());
      _exit(127);
    }
  }
  ~NatsServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (auto until = Clock::now() + 3s; Clock::now() < until; std::this_thread::sleep_for(10ms)) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Waits until every port in `ports` accepts TCP (the server is up) or fails the test.
  void wait_ready(const std::vector<int>& ports) {
    const auto until = Clock::now() + 10s;
    for (int port : ports) {
      while (!accepts_tcp(port)) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          FAIL("nats-server exited during startup:\n" << slurp(log_));
        }
        if (Clock::now() > until) FAIL("nats-server did not listen on " << port << " within 10 s:\n" << slurp(log_));
        std::this_thread::sleep_for(20ms);
      }
    }
  }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// Two CAs, server certificates for the right and for another name, and a client certificate.
struct Pki {
  TempDir dir;
  std::string ca, other_ca, server_cert, server_key, other_cert, other_key, client_cert, client_key;
  Pki() {
    const auto ca_pem = leaf::pki::make_ca("preflight test CA", 1);
    const auto other_ca_pem = leaf::pki::make_ca("some other CA", 1);
    const auto server = leaf::pki::make_cert(ca_pem, "localhost", {"localhost", "127.0.0.1", "::1"}, true, false, 1);
    const auto other = leaf::pki::make_cert(ca_pem, "other.example", {"other.example"}, true, false, 1);
    const auto client = leaf::pki::make_cert(ca_pem, "leaf", {"leaf"}, false, true, 1);
    ca = dir.write("ca.pem", ca_pem.cert_pem);
    other_ca = dir.write("other-ca.pem", other_ca_pem.cert_pem);
    server_cert = dir.write("server.pem", server.cert_pem);
    server_key = dir.write("server-key.pem", server.key_pem);
    other_cert = dir.write("other.pem", other.cert_pem);
    other_key = dir.write("other-key.pem", other.key_pem);
    client_cert = dir.write("client.pem", client.cert_pem);
    client_key = dir.write("client-key.pem", client.key_pem);
  }
  Tls trusted() const { return Tls{ca, client_cert, client_key, "", false}; }
};

// The hub: a leafnode port that requires a client certificate from the CA, and a websocket port;
// both present the certificate for localhost / 127.0.0.1 / ::1.
struct Hub {
  int client = free_port(), leaf = free_port(), ws = free_port();
  std::unique_ptr<NatsServer> server;
  explicit Hub(const Pki& pki) {
    const std::string tls = "tls { cert_file: \"" + pki.server_cert + "\", key_file: \"" + pki.server_key + "\"";
    server = std::make_unique<NatsServer>(
        pki.dir, "hub",
        "listen: \"127.0.0.1:" + std::to_string(client) + "\"\n" +
            "leafnodes { listen: \"127.0.0.1:" + std::to_string(leaf) + "\", " + tls + ", ca_file: \"" + pki.ca +
            "\", verify: true, timeout: 5 } }\n" +
            "websocket { listen: \"127.0.0.1:" + std::to_string(ws) + "\", " + tls + " } }\n");
    server->wait_ready({client, leaf, ws});
  }
  std::string leaf_url(const std::string& host = "127.0.0.1") const { return "tls://" + host + ":" + std::to_string(leaf); }
};

// A leafnode port whose certificate is valid only for "other.example"; no client certificate.
struct OtherHub {
  int client = free_port(), leaf = free_port();
  std::unique_ptr<NatsServer> server;
  explicit OtherHub(const Pki& pki) {
    server = std::make_unique<NatsServer>(
        pki.dir, "other",
        "listen: \"127.0.0.1:" + std::to_string(client) + "\"\n" + "leafnodes { listen: \"127.0.0.1:" +
            std::to_string(leaf) + "\", tls { cert_file: \"" + pki.other_cert + "\", key_file: \"" + pki.other_key +
            "\", timeout: 5 } }\n");
    server->wait_ready({client, leaf});
  }
  std::string leaf_url(const std::string& host = "127.0.0.1") const { return "tls://" + host + ":" + std::to_string(leaf); }
};

}  // namespace

TEST_CASE("preflight: a hub leafnode port whose certificate chains to the CA passes") {
  Pki pki;
  Hub hub(pki);

  for (const std::string& url : {hub.leaf_url("127.0.0.1"), hub.leaf_url("localhost")}) {
    const auto p = probe(url, pki.trusted(), 3s);
    INFO(url);
    CHECK(p.url == url);
    CHECK(p.error == "");
    CHECK(p.ok);
  }
  // The websocket port speaks TLS at once.
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    const std::string url = "wss://" + host + ":" + std::to_string(hub.ws) + "/leafnode";
    const auto p = probe(url, Tls{pki.ca, "", "", "", false}, 3s);
    INFO(url);
    CHECK(p.error == "");
    CHECK(p.ok);
  }
}

TEST_CASE("preflight: TLS failures at the hub are named: wrong CA, missing client certificate, protocol mix-ups") {
  Pki pki;
  Hub hub(pki);
  const std::string hp = "127.0.0.1:" + std::to_string(hub.leaf);

  SUBCASE("a CA that did not issue the server certificate") {
    const auto p = probe(hub.leaf_url(), Tls{pki.other_ca, pki.client_cert, pki.client_key, "", false}, 3s);
    CHECK_FALSE(p.ok);
    CHECK(p.error == "TLS: certificate verify failed (unable to get local issuer certificate) for " + hp);
  }
  SUBCASE("the hub requires a client certificate and none is offered") {
    const auto p = probe(hub.leaf_url(), Tls{pki.ca, "", "", "", false}, 3s);
    CHECK_FALSE(p.ok);
    CHECK(starts_with(p.error, "TLS: handshake failed with " + hp + ": "));
    CHECK(contains(p.error, "certificate"));
  }
  SUBCASE("handshake_first against a port that sends INFO first") {
    const auto p = probe(hub.leaf_url(), Tls{pki.ca, pki.client_cert, pki.client_key, "", true}, 3s);
    CHECK_FALSE(p.ok);
    CHECK(p.error == "TLS: handshake failed with " + hp +
                         ": the server sent a plaintext INFO first (it is not set up for handshake_first)");
  }
  SUBCASE("tls:// against the websocket port: no INFO") {
    const std::string url = "tls://127.0.0.1:" + std::to_string(hub.ws);
    const auto t0 = Clock::now();
    const auto p = probe(url, pki.trusted(), 500ms);
    CHECK(Clock::now() - t0 < 2s);
    CHECK(p.error == "NATS: no INFO from 127.0.0.1:" + std::to_string(hub.ws) + " (not a NATS leaf node port?)");
  }
  SUBCASE("the client port is plaintext NATS: INFO without TLS") {
    const auto p = probe("tls://127.0.0.1:" + std::to_string(hub.client), pki.trusted(), 3s);
    CHECK_FALSE(p.ok);
    CHECK(starts_with(p.error, "TLS: handshake failed with 127.0.0.1:" + std::to_string(hub.client) + ": "));
    CHECK(contains(p.error, "does not offer TLS"));
  }
}

TEST_CASE("preflight: a certificate for another name is a name mismatch") {
  Pki pki;
  OtherHub other(pki);
  const std::string port = std::to_string(other.leaf);
  const Tls ca_only{pki.ca, "", "", "", false};

  auto p = probe(other.leaf_url("127.0.0.1"), ca_only, 3s);
  CHECK_FALSE(p.ok);
  CHECK(p.error == "TLS: certificate name mismatch: 127.0.0.1:" + port + " presented a certificate not valid for 127.0.0.1");

  p = probe(other.leaf_url("localhost"), ca_only, 3s);
  CHECK(p.error == "TLS: certificate name mismatch: localhost:" + port + " presented a certificate not valid for localhost");

  // server_name overrides the URL host for verification (and SNI).
  p = probe(other.leaf_url("127.0.0.1"), Tls{pki.ca, "", "", "other.example", false}, 3s);
  CHECK(p.error == "");
  CHECK(p.ok);
  p = probe(other.leaf_url("localhost"), Tls{pki.ca, "", "", "hub.example", false}, 3s);
  CHECK(p.error == "TLS: certificate name mismatch: localhost:" + port + " presented a certificate not valid for hub.example");
}

TEST_CASE("preflight: DNS, TCP and NATS failures are named") {
  Pki pki;

  SUBCASE("refused port") {
    const int port = free_port();
    const auto p = probe("tls://127.0.0.1:" + std::to_string(port), pki.trusted(), 2s);
    CHECK_FALSE(p.ok);
    CHECK(p.error == "TCP: connection refused 127.0.0.1:" + std::to_string(port));
  }
  SUBCASE("refused on every address of localhost") {
    const int port = free_port();
    const auto p = probe("tls://localhost:" + std::to_string(port), pki.trusted(), 2s);
    CHECK(p.error == "TCP: connection refused localhost:" + std::to_string(port));
  }
  SUBCASE("a name that never resolves") {
    const auto p = probe("tls://no-such-host.invalid:7422", pki.trusted(), 2s);
    CHECK_FALSE(p.ok);
    CHECK(p.error == "DNS: no such host no-such-host.invalid");
  }
  SUBCASE("a TCP listener that never writes") {
    auto silent = bound_socket(true);
    const std::string port = std::to_string(port_of(silent->fd));
    const auto t0 = Clock::now();
    const auto p = probe("tls://127.0.0.1:" + port, pki.trusted(), 400ms);
    const auto took = Clock::now() - t0;
    CHECK_FALSE(p.ok);
    CHECK(p.error == "NATS: no INFO from 127.0.0.1:" + port + " (not a NATS leaf node port?)");
    CHECK(took >= 350ms);
    CHECK(took < 2s);
  }
  SUBCASE("wss:// to a listener that never writes: the handshake times out") {
    auto silent = bound_socket(true);
    const std::string port = std::to_string(port_of(silent->fd));
    const auto p = probe("wss://127.0.0.1:" + port + "/leafnode", pki.trusted(), 300ms);
    CHECK(p.error == "TLS: handshake failed with 127.0.0.1:" + port + ": timed out");
  }
  SUBCASE("a URL the parser refuses") {
    const auto p = probe("nats://127.0.0.1:7422", pki.trusted(), 1s);
    CHECK(p.error == "upstream URL nats://127.0.0.1:7422 is plaintext; use tls://");
    const auto q = probe("tls://u:secret@127.0.0.1:7422", pki.trusted(), 1s);
    CHECK(q.url == "tls://REDACTED@127.0.0.1:7422");
    CHECK(starts_with(q.error, "upstream URL must not carry a user or password"));
  }
}

TEST_CASE("preflight: TLS file problems are found before connecting") {
  Pki pki;
  // A refused port: a file problem must be reported instead of the connection failure.
  const std::string url = "tls://127.0.0.1:" + std::to_string(free_port());

  auto p = probe(url, Tls{pki.ca, pki.client_cert, pki.server_key, "", false}, 1s);
  CHECK_FALSE(p.ok);
  CHECK(starts_with(p.error, "TLS: client certificate and key do not match"));

  p = probe(url, Tls{pki.dir.file("missing.pem"), "", "", "", false}, 1s);
  CHECK(starts_with(p.error, "TLS: CA file " + pki.dir.file("missing.pem") + ": cannot open"));

  p = probe(url, Tls{pki.server_key, "", "", "", false}, 1s);  // a key where the CA belongs
  CHECK(starts_with(p.error, "TLS: CA file " + pki.server_key + ": "));

  p = probe(url, Tls{pki.ca, pki.client_cert, "", "", false}, 1s);
  CHECK(p.error == "TLS: certificate file " + pki.client_cert + " given without a key file");

  p = probe(url, Tls{pki.ca, pki.client_cert, pki.dir.file("nokey.pem"), "", false}, 1s);
  CHECK(starts_with(p.error, "TLS: key file " + pki.dir.file("nokey.pem") + ": cannot open"));
}

TEST_CASE("preflight: the timeout counts from before the name lookup, and bounds one that never answers") {
  // Stand-ins for a resolver (no test may ask a real one that hangs): they answer when the test
  // lets them, or after 3 s. Their state is shared: a lookup the probe gave up on may still run.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    int finished = 0;
  };
  auto gate = std::make_shared<Gate>();
  const auto release = [gate] {
    std::unique_lock<std::mutex> g(gate->mu);
    gate->open = true;
    gate->cv.notify_all();
    gate->cv.wait_for(g, 5s, [&] { return gate->finished > 0; });  // the lookup thread is done with it
  };
  Pki pki;

  SUBCASE("a lookup that never answers ends at the probe's timeout") {
    const auto hang = [gate](const char*, const char*, const addrinfo*, addrinfo** res) {
      std::unique_lock<std::mutex> g(gate->mu);
      gate->cv.wait_for(g, 3s, [&] { return gate->open; });
      *res = nullptr;
      ++gate->finished;
      gate->cv.notify_all();
      return EAI_AGAIN;
    };
    const auto t0 = Clock::now();
    const auto p = leaf::preflight::probe("tls://hub.example:7422", pki.trusted(), 300ms, hang);
    const auto took = Clock::now() - t0;
    release();
    CHECK_FALSE(p.ok);
    CHECK(p.error == "DNS: no answer within 300 ms for hub.example");
    CHECK_MESSAGE(took < 1s, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  }
  SUBCASE("a slow lookup uses up the timeout it shares with the steps after it") {
    // 250 ms to answer 127.0.0.1, a port that never speaks: the INFO wait gets what is left of 400 ms.
    auto silent = bound_socket(true);
    const std::string port = std::to_string(port_of(silent->fd));
    const auto slow = [gate](const char*, const char* service, const addrinfo* hints, addrinfo** res) {
      std::this_thread::sleep_for(250ms);
      addrinfo numeric = *hints;
      numeric.ai_flags |= AI_NUMERICHOST;
      const int rc = ::getaddrinfo("127.0.0.1", service, &numeric, res);
      std::lock_guard<std::mutex> g(gate->mu);
      ++gate->finished;
      gate->cv.notify_all();
      return rc;
    };
    const auto t0 = Clock::now();
    const auto p = leaf::preflight::probe("tls://hub.example:" + port, pki.trusted(), 400ms, slow);
    const auto took = Clock::now() - t0;
    release();
    CHECK(p.error == "NATS: no INFO from hub.example:" + port + " (not a NATS leaf node port?)");
    CHECK(took >= 350ms);
    CHECK_MESSAGE(took < 550ms, std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  }
}
