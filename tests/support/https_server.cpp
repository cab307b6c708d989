#include "support/https_server.hpp"

#include "agent/preflight/pki.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace harness {
namespace {

std::string ssl_error_text() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return s.substr(b, e - b);
}

bool write_all(SSL* ssl, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const int n = SSL_write(ssl, data.data() + off, static_cast<int>(data.size() - off));
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

HttpsServer::HttpsServer(const std::string& cert_pem_file, const std::string& key_pem_file) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + ssl_error_text());
  auto fail = [this](const std::string& what) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    for (int& fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
    SSL_CTX_free(ctx_);
    return std::runtime_error(what);
  };
  if (SSL_CTX_use_certificate_chain_file(ctx_, cert_pem_file.c_str()) != 1) {
    throw fail("cannot load " + cert_pem_file + ": " + ssl_error_text());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx_, key_pem_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw fail("cannot load " + key_pem_file + ": " + ssl_error_text());
  }
  if (SSL_CTX_check_private_key(ctx_) != 1) throw fail("key does not match certificate");

  if (::pipe2(wake_, O_CLOEXEC) != 0) throw fail(std::string("pipe: ") + std::strerror(errno));
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw fail(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw fail(std::string("bind: ") + std::strerror(errno));
  }
  if (::listen(listen_fd_, 16) != 0) throw fail(std::string("listen: ") + std::strerror(errno));
  socklen_t len = sizeof addr;
  if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw fail(std::string("getsockname: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { run(); });
}

HttpsServer::~HttpsServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  const char b = 'x';
  [[maybe_unused]] const ssize_t n = ::write(wake_[1], &b, 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  SSL_CTX_free(ctx_);
}

void HttpsServer::respond(int status, std::string body, std::string content_type) {
  std::lock_guard<std::mutex> lock(mu_);
  status_ = status;
  body_ = std::move(body);
  content_type_ = std::move(content_type);
}

void HttpsServer::fail_next(int n, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_n_ = n;
  fail_status_ = status;
}

void HttpsServer::delay(std::chrono::milliseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = d;
}

void HttpsServer::require_client_cert(const std::string& ca_pem_file) {
  std::lock_guard<std::mutex> lock(mu_);  // the server thread creates SSL objects under mu_
  if (SSL_CTX_load_verify_locations(ctx_, ca_pem_file.c_str(), nullptr) != 1) {
    throw std::runtime_error("cannot load " + ca_pem_file + ": " + ssl_error_text());
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
}

std::string HttpsServer::last_authorization() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_authorization_;
}

int HttpsServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int HttpsServer::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

void HttpsServer::run() {
  // A client that hangs up before we answer must not kill the test binary: SIGPIPE raised by our
  // write() is directed at this thread, stays pending while blocked, and write() returns EPIPE.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  while (!stopping()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (stopping() || (fds[1].revents & POLLIN)) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++connections_;
    }
    timeval tv{2, 0};  // a silent client cannot hold the thread (or the destructor) for long
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    serve(fd);
    ::close(fd);
  }
}

void HttpsServer::serve(int fd) {
  SSL* ssl = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ssl = SSL_new(ctx_);
  }
  if (!ssl) return;
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) != 1) {  // e.g. the client did not trust us, or sent no certificate
    ERR_clear_error();
    SSL_free(ssl);
    return;
  }

  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 64 * 1024) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const std::size_t end = request.find("\r\n\r\n");
  if (end == std::string::npos) {
    ERR_clear_error();
    SSL_free(ssl);
    return;
  }

  std::string authorization;
  std::size_t pos = request.find("\r\n");  // skip the request line
  while (pos != std::string::npos && pos < end) {
    const std::size_t next = request.find("\r\n", pos + 2);
    const std::string line = request.substr(pos + 2, next - pos - 2);
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos && lower(trim(line.substr(0, colon))) == "authorization") {
      authorization = trim(line.substr(colon + 1));
    }
    pos = next;
  }

  int status = 0;
  std::string body, content_type;
  std::chrono::milliseconds wait{0};
  {
    std::unique_lock<std::mutex> lock(mu_);
    ++requests_;
    last_authorization_ = authorization;
    if (fail_n_ > 0) {
      --fail_n_;
      status = fail_status_;
      body = std::string(reason_phrase(status)) + "\n";
      content_type = "text/plain";
    } else {
      status = status_;
      body = body_;
      content_type = content_type_;
    }
    wait = delay_;
    if (wait.count() > 0) cv_.wait_for(lock, wait, [this] { return stopping(); });
  }

  const std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                               "\r\nContent-Type: " + content_type +
                               "\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n" + body;
  if (!stopping() && write_all(ssl, response)) SSL_shutdown(ssl);
  ERR_clear_error();
  SSL_free(ssl);
}

CredsEndpoint::CredsEndpoint() {
  const auto ca = leaf::pki::make_ca("creds endpoint CA", 1);
  const auto cert = leaf::pki::make_cert(ca, "endpoint", {"127.0.0.1"}, true, false, 1);
  write_file(pki / "ca.pem", ca.cert_pem);
  write_file(pki / "cert.pem", cert.cert_pem);
  write_file(pki / "key.pem", cert.key_pem);
  server = std::make_unique<HttpsServer>(pki / "cert.pem", pki / "key.pem");
}

}  // namespace harness
