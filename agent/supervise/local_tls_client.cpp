#include "agent/supervise/local_tls_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "agent/config/config.hpp"
#include "agent/core/c_ptr.hpp"
#include "agent/core/error.hpp"
#include "agent/core/text.hpp"
#include "agent/io/poll_wait.hpp"

namespace leaf::health {
namespace {
using Clock = std::chrono::steady_clock;
using CtxPtr = Ptr<SSL_CTX, SSL_CTX_free>;
using SslPtr = Ptr<SSL, SSL_free>;

using io::ms_left;
using io::wait_for;

std::string ssl_reason() {
  char buf[256] = "";
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;  // the newest entry names the failure best
  if (last != 0) ERR_error_string_n(last, buf, sizeof buf);
  ERR_clear_error();
  return buf[0] ? buf : "the connection was closed";
}
}  // namespace

struct TlsLocalClient::Conn {
  int fd = -1;
  CtxPtr ctx;
  SslPtr ssl;
  std::string in;  // plain-text bytes received, not yet consumed as lines
  ~Conn() {
    if (ssl) {
      SSL_shutdown(ssl.get());
      ERR_clear_error();
    }
    ssl.reset();
    if (fd >= 0) ::close(fd);
  }
};

TlsLocalClient::TlsLocalClient(std::string listen, int timeout_ms, TlsFiles files)
    : listen_(std::move(listen)), timeout_ms_(timeout_ms), files_(std::move(files)) {}

TlsLocalClient::~TlsLocalClient() = default;

void TlsLocalClient::reset() { conn_.reset(); }
bool TlsLocalClient::connected() const { return conn_ != nullptr; }

// One line ("\r\n" removed): from the socket before TLS is up (the server's INFO), else from TLS.
bool TlsLocalClient::read_line(std::string& line, Clock::time_point deadline, std::string& error) {
  Conn& c = *conn_;
  for (;;) {
    if (const size_t eol = c.in.find("\r\n"); eol != std::string::npos) {
      line = c.in.substr(0, eol);
      c.in.erase(0, eol + 2);
      return true;
    }
    if (c.in.size() > 64 * 1024) return error = "protocol line too long", false;
    char buf[4096];
    if (!c.ssl) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
      } else if (n == 0) {
        return error = "connection closed by nats-server", false;
      } else if (errno == EAGAIN || errno == EINTR) {
        if (!wait_for(c.fd, POLLIN, deadline)) return error = "no answer within " + std::to_string(timeout_ms_) + " ms", false;
      } else {
        return error = std::string("recv: ") + std::strerror(errno), false;
      }
      continue;
    }
    const int n = SSL_read(c.ssl.get(), buf, sizeof buf);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    const int err = SSL_get_error(c.ssl.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        ERR_clear_error();
        return error = "no answer within " + std::to_string(timeout_ms_) + " ms", false;
      }
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return ERR_clear_error(), error = "connection closed by nats-server", false;
    return error = "TLS: " + ssl_reason(), false;
  }
}

bool TlsLocalClient::write_all(const std::string& data, Clock::time_point deadline, std::string& error) {
  Conn& c = *conn_;
  for (size_t sent = 0; sent < data.size();) {
    const int n = SSL_write(c.ssl.get(), data.data() + sent, static_cast<int>(data.size() - sent));
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    const int err = SSL_get_error(c.ssl.get(), n);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
        wait_for(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    return error = "TLS: send failed: " + ssl_reason(), false;
  }
  return true;
}

// TCP, the server's INFO (it must ask for TLS), the TLS handshake with the health certificate
// and the server's verified, then CONNECT.
bool TlsLocalClient::connect(Clock::time_point deadline, std::string& error) {
  config::HostPort hp;
  try {
    hp = config::parse_host_port(listen_, "address");
  } catch (const Error& e) {
    return error = e.what(), false;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(hp.host.c_str(), std::to_string(hp.port).c_str(), &hints, &res); rc != 0) {
    return error = "cannot resolve " + hp.host + ": " + ::gai_strerror(rc), false;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, ::freeaddrinfo);
  conn_ = std::make_unique<Conn>();
  Conn& c = *conn_;
  c.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) return error = std::string("socket: ") + std::strerror(errno), false;
  // CONNECT and PING go as two TLS records: with Nagle, the second waited for the server's
  // delayed ACK (40 ms here, the handshake having ended TCP's quick-ACK start), on every start.
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c.fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return error = std::string("Couldn't connect to server: ") + std::strerror(errno), false;
    if (!wait_for(c.fd, POLLOUT, deadline)) return error = "connect timed out after " + std::to_string(timeout_ms_) + " ms", false;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return error = std::string("Couldn't connect to server: ") + std::strerror(err), false;
  }

  std::string line;
  if (!read_line(line, deadline, error)) return false;
  if (line.rfind("INFO ", 0) != 0) return error = "not a NATS server (no INFO)", false;
  const auto info = nlohmann::json::parse(line.substr(5), nullptr, false);
  if (!info.is_object()) return error = "not a NATS server (INFO is not JSON)", false;
  if (!info.value("tls_required", false)) {
    return error = "the local listener does not require TLS, but local.auth = \"tls\"", false;
  }
  if (!c.in.empty()) return error = "nats-server sent more than its INFO before TLS", false;

  ERR_clear_error();
  c.ctx.reset(SSL_CTX_new(TLS_client_method()));
  if (!c.ctx) return error = "TLS: " + ssl_reason(), false;
  SSL_CTX_set_min_proto_version(c.ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(c.ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(c.ctx.get(), files_.ca_file.c_str(), nullptr) != 1) {
    return error = "TLS: cannot load " + files_.ca_file + ": " + ssl_reason(), false;
  }
  if (SSL_CTX_use_certificate_chain_file(c.ctx.get(), files_.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(c.ctx.get(), files_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return error = "TLS: cannot load " + files_.cert_file + " / its key: " + ssl_reason(), false;
  }
  c.ssl.reset(SSL_new(c.ctx.get()));
  if (!c.ssl || SSL_set_fd(c.ssl.get(), c.fd) != 1) return error = "TLS: " + ssl_reason(), false;
  X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl.get());
  unsigned char ip[16];
  const bool literal = inet_pton(AF_INET, hp.host.c_str(), ip) == 1 || inet_pton(AF_INET6, hp.host.c_str(), ip) == 1;
  if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(param, hp.host.c_str())
               : X509_VERIFY_PARAM_set1_host(param, hp.host.c_str(), hp.host.size())) != 1) {
    return error = "TLS: " + ssl_reason(), false;
  }
  SSL_set_connect_state(c.ssl.get());
  for (;;) {
    const int rc = SSL_do_handshake(c.ssl.get());
    if (rc == 1) break;
    const int err = SSL_get_error(c.ssl.get(), rc);
    if ((err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) &&
        wait_for(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      continue;
    }
    const long vr = SSL_get_verify_result(c.ssl.get());
    const std::string why = vr != X509_V_OK ? std::string(X509_verify_cert_error_string(vr)) : ssl_reason();
    ERR_clear_error();
    return error = "TLS handshake failed: " + why, false;
  }
  const nlohmann::json connect = {{"verbose", false}, {"pedantic", false}, {"tls_required", true}, {"lang", "leaf-agent"},
                                  {"version", LEAF_AGENT_VERSION}, {"protocol", 1}, {"name", "leaf-agent health"},
                                  {"headers", false}};
  return write_all("CONNECT " + connect.dump() + "\r\n", deadline, error);
}

Check TlsLocalClient::check() {
  const auto fail = [this](const std::string& why) {
    reset();
    return Check{false, "client on " + listen_ + " (TLS): " + text::one_line(why)};
  };
  for (int attempt = 0; attempt < 2; ++attempt) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
    std::string error;
    const bool fresh = !conn_;
    if (fresh && !connect(deadline, error)) return fail(error);
    bool ok = write_all("PING\r\n", deadline, error);
    std::string line;
    while (ok && (ok = read_line(line, deadline, error))) {
      if (line == "PONG") return {true, "ping ok on " + listen_ + " (TLS)"};
      if (line == "PING") {
        ok = write_all("PONG\r\n", deadline, error);
      } else if (line.rfind("-ERR", 0) == 0) {
        return fail(line.substr(line.size() > 5 ? 5 : line.size()));
      }
    }
    if (fresh) return fail(error);
    reset();  // a stale connection (nats-server restarted): once more with a new one
  }
  return fail("unreachable");
}

}  // namespace leaf::health
