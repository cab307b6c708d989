// Upstream preflight. The TLS connection runs over memory BIOs with our own non-blocking socket
// I/O, so every step obeys one deadline, nothing raises SIGPIPE (send(MSG_NOSIGNAL)), and bytes
// the server sent in plaintext can be quoted in the error. Every socket and OpenSSL object lives in
// an RAII holder; failures inside probe() are a Fail exception carrying the finished one-line
// message, caught at the top together with anything else that might escape.
#include "agent/core/c_ptr.hpp"
#include "agent/preflight/preflight.hpp"

#include "agent/core/error.hpp"
#include "agent/preflight/pki.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

namespace leaf::preflight {
namespace {
using config::is_ipv4;
using config::is_ipv6;
using config::lower_ascii;
using config::printable;


// ---------------------------------------------------------------------------------------------
// RAII holders


using CtxPtr = Ptr<SSL_CTX, SSL_CTX_free>;
using SslPtr = Ptr<SSL, SSL_free>;
using BioPtr = Ptr<BIO, BIO_free>;
using AddrPtr = Ptr<addrinfo, freeaddrinfo>;

class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() { reset(); }
  Socket(Socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A failed probe step: `message` is the finished one-line error.
struct Fail {
  std::string message;
};

// ---------------------------------------------------------------------------------------------
// Time and socket I/O

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

// Waits until `fd` has `events` or the deadline passes (false).
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, remaining_ms(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) throw Fail{std::string("internal: poll: ") + std::strerror(errno)};
  }
}

enum class Read { data, eof, timeout, error };

// One recv() of whatever is available (waiting up to the deadline), appended to `out`.
Read read_some(int fd, std::string& out, Clock::time_point deadline, int& err) {
  for (;;) {
    if (!wait_fd(fd, POLLIN, deadline)) return Read::timeout;
    char buf[16384];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      return Read::data;
    }
    if (n == 0) return Read::eof;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    err = errno;
    return Read::error;
  }
}

// Sends all of `data`; 0 or an errno (ETIMEDOUT when the deadline passed).
int send_all(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_fd(fd, POLLOUT, deadline)) return ETIMEDOUT;
    } else if (errno != EINTR) {
      return errno;
    }
  }
  return 0;
}

std::string host_port(const Endpoint& ep) {
  const std::string host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]" : ep.host;
  return host + ":" + std::to_string(ep.port);
}

// ---------------------------------------------------------------------------------------------
// DNS and TCP

// A name lookup on a detached thread, waited for until the deadline: the resolver's own
// timeouts (5 s per server and attempt, from resolv.conf) are not the probe's. What the two share
// is held by both; a lookup given up on frees its answer itself when it ends.
struct Lookup {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, abandoned = false;
  int rc = 0, err = 0;
  addrinfo* res = nullptr;
};

int resolve_until(const Resolver& resolver, const std::string& host, const std::string& port, const addrinfo& hints,
                  addrinfo** res, Clock::time_point deadline, bool& timed_out) {
  // An address is parsed, never looked up: no thread for it.
  if (hints.ai_flags & AI_NUMERICHOST) return resolver(host.c_str(), port.c_str(), &hints, res);
  auto l = std::make_shared<Lookup>();
  std::thread([l, resolver, host, port, hints] {
    addrinfo* out = nullptr;
    const int rc = resolver(host.c_str(), port.c_str(), &hints, &out);
    const int err = errno;
    std::lock_guard<std::mutex> g(l->mu);
    if (l->abandoned) {
      if (rc == 0 && out != nullptr) ::freeaddrinfo(out);
      return;
    }
    l->done = true;
    l->rc = rc;
    l->err = err;
    l->res = out;
    l->cv.notify_all();
  }).detach();
  std::unique_lock<std::mutex> g(l->mu);
  if (!l->cv.wait_until(g, deadline, [&] { return l->done; })) {
    l->abandoned = true;
    timed_out = true;
    return EAI_AGAIN;
  }
  *res = l->res;
  errno = l->err;
  return l->rc;
}

AddrPtr resolve(const Endpoint& ep, const Resolver& resolver, Clock::time_point deadline, std::chrono::milliseconds timeout) {
  // RFC 6761: names under .invalid never resolve; answer without asking a resolver that may be
  // unreachable (which would say "temporary failure" instead).
  std::string h = lower_ascii(ep.host);
  if (!h.empty() && h.back() == '.') h.pop_back();
  if (h == "invalid" || (h.size() > 8 && h.compare(h.size() - 8, 8, ".invalid") == 0)) {
    throw Fail{"DNS: no such host " + ep.host};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV | (is_ipv4(ep.host) || is_ipv6(ep.host) ? AI_NUMERICHOST : 0);
  addrinfo* res = nullptr;
  bool timed_out = false;
  const int rc = resolve_until(resolver, ep.host, std::to_string(ep.port), hints, &res, deadline, timed_out);
  if (timed_out) throw Fail{"DNS: no answer within " + std::to_string(timeout.count()) + " ms for " + ep.host};
  AddrPtr list(res);
  bool no_such_host = rc == EAI_NONAME;
#ifdef EAI_NODATA
  no_such_host = no_such_host || rc == EAI_NODATA;
#endif
  if (no_such_host || (rc == 0 && res == nullptr)) throw Fail{"DNS: no such host " + ep.host};
  if (rc == EAI_SYSTEM) throw Fail{std::string("DNS: ") + std::strerror(errno) + " for " + ep.host};
  if (rc != 0) throw Fail{std::string("DNS: ") + ::gai_strerror(rc) + " for " + ep.host};
  return list;
}

// Tries each address in turn; the first connected socket wins. If all fail, reports the most
// telling failure: refused or timed out beats a local one such as "address family not supported"
// for an IPv6 address on an IPv4-only host.
Socket connect_any(const addrinfo* list, const std::string& hp, Clock::time_point deadline) {
  std::string best;
  int best_rank = -1;
  auto note = [&](int err) {
    int rank = 1;
    std::string m;
    if (err == ECONNREFUSED) {
      m = "TCP: connection refused " + hp;
      rank = 2;
    } else if (err == ETIMEDOUT) {
      m = "TCP: timed out connecting to " + hp;
      rank = 2;
    } else {
      m = std::string("TCP: ") + std::strerror(err) + " " + hp;
    }
    if (rank >= best_rank) {
      best = m;
      best_rank = rank;
    }
  };
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Socket s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (s.get() < 0) {
      note(errno);
      continue;
    }
    int err = 0;
    if (::connect(s.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS || err == EINTR) {
        if (!wait_fd(s.get(), POLLOUT, deadline)) {
          note(ETIMEDOUT);
          continue;
        }
        socklen_t len = sizeof err;
        if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) return s;
    note(err);
  }
  throw Fail{best.empty() ? "TCP: no address to connect to for " + hp : best};
}

// ---------------------------------------------------------------------------------------------
// NATS INFO

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  return lower_ascii(std::string(s.substr(0, prefix.size()))) == prefix;
}

// `"key"` followed (after optional blanks and a colon) by `true` in the INFO JSON.
bool json_true(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (size_t at = json.find(quoted); at != std::string_view::npos; at = json.find(quoted, at + 1)) {
    size_t i = at + quoted.size();
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (json.substr(i, 4) == "true") return true;
  }
  return false;
}

// `"key"` followed by a colon and a short string of version characters ("2.15.1"), or "".
std::string json_version(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  const size_t at = json.find(quoted);
  if (at == std::string_view::npos) return "";
  size_t i = at + quoted.size();
  while (i < json.size() && (json[i] == ' ' || json[i] == ':' || json[i] == '\t')) ++i;
  if (i >= json.size() || json[i] != '"') return "";
  const size_t end = json.find('"', i + 1);
  if (end == std::string_view::npos || end - i - 1 > 32) return "";
  const std::string_view v = json.substr(i + 1, end - i - 1);
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-')) return "";
  }
  return std::string(v);
}

struct Info {
  bool offers_tls = false;
  std::string version;   // the server's own claim in its INFO (not authenticated: for display only)
  std::string leftover;  // bytes after the INFO line (start of the TLS stream, normally none)
};

// Reads the plaintext "INFO {...}\r\n" a NATS server sends first on a leafnode port.
Info read_info(int fd, const std::string& hp, Clock::time_point deadline) {
  const Fail no_info{"NATS: no INFO from " + hp + " (not a NATS leaf node port?)"};
  std::string buf;
  for (;;) {
    if (buf.size() >= 4 && !starts_with_nocase(buf, "info")) throw no_info;
    if (const size_t nl = buf.find('\n'); nl != std::string::npos) {
      std::string line = buf.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.size() < 5 || (line[4] != ' ' && line[4] != '\t')) throw no_info;
      return {json_true(line, "tls_required") || json_true(line, "tls_available"), json_version(line, "version"),
              buf.substr(nl + 1)};
    }
    if (buf.size() > (1u << 20)) throw no_info;
    int err = 0;
    switch (read_some(fd, buf, deadline, err)) {
      case Read::data: break;
      case Read::eof:
      case Read::timeout: throw no_info;
      case Read::error: throw Fail{std::string("NATS: ") + std::strerror(err) + " reading INFO from " + hp};
    }
  }
}

// ---------------------------------------------------------------------------------------------
// TLS

// Never prompt on the terminal for a key passphrase: encrypted keys are unsupported.
int no_password(char*, int, int, void*) { return -1; }

// The earliest queued OpenSSL error's reason (usually the root cause); empties the queue.
std::string take_reason() {
  const unsigned long e = ERR_get_error();
  std::string r;
  if (e != 0) {
    if (const char* s = ERR_reason_error_string(e); s != nullptr) {
      r = s;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      r = buf;
    }
  }
  ERR_clear_error();
  return r.empty() ? "unknown error" : r;
}

// What the message callback saw during the connection.
struct Seen {
  bool cert_requested = false;  // the server sent a CertificateRequest
  bool ticket = false;          // the server sent a NewSessionTicket
};

void on_message(int write_p, int, int content_type, const void* buf, size_t len, SSL*, void* arg) {
  if (arg == nullptr || write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len == 0) return;
  const unsigned char type = static_cast<const unsigned char*>(buf)[0];
  if (type == SSL3_MT_CERTIFICATE_REQUEST) static_cast<Seen*>(arg)->cert_requested = true;
  if (type == SSL3_MT_NEWSESSION_TICKET) static_cast<Seen*>(arg)->ticket = true;
}

CtxPtr make_context(const Tls& tls) {
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw Fail{"internal: SSL_CTX_new: " + take_reason()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_password);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_msg_callback(ctx.get(), on_message);

  try {
    if (tls.ca_file.empty()) {
      if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) ERR_clear_error();  // then nothing verifies
    } else {
      pki::check_ca_file(tls.ca_file);  // readable, PEM certificates only: precise messages
      if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1) {
        throw Fail{"TLS: CA file " + tls.ca_file + ": cannot load: " + take_reason()};
      }
    }
    if (tls.cert_file.empty() != tls.key_file.empty()) {
      throw Fail{tls.cert_file.empty() ? "TLS: key file " + tls.key_file + " given without a client certificate file"
                                       : "TLS: certificate file " + tls.cert_file + " given without a key file"};
    }
    if (!tls.cert_file.empty()) {
      pki::check_cert_key_pair(tls.cert_file, tls.key_file);
      if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
        throw Fail{"TLS: certificate file " + tls.cert_file + ": cannot load: " + take_reason()};
      }
      if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw Fail{"TLS: key file " + tls.key_file + ": cannot load: " + take_reason()};
      }
      if (SSL_CTX_check_private_key(ctx.get()) != 1) {
        ERR_clear_error();
        throw Fail{"TLS: client certificate and key do not match (cert " + tls.cert_file + ", key " + tls.key_file + ")"};
      }
    }
  } catch (const leaf::Error& e) {
    throw Fail{std::string("TLS: ") + e.what()};
  }
  return ctx;
}

// One TLS client connection over memory BIOs, driven with our own socket I/O.
class Connection {
 public:
  Connection(SSL_CTX* ctx, int fd, std::string hp) : fd_(fd), hp_(std::move(hp)) {
    ssl_.reset(SSL_new(ctx));
    if (!ssl_) throw Fail{"internal: SSL_new: " + take_reason()};
    BioPtr rbio(BIO_new(BIO_s_mem()));
    BioPtr wbio(BIO_new(BIO_s_mem()));
    if (!rbio || !wbio) throw Fail{"internal: BIO_new: " + take_reason()};
    rbio_ = rbio.get();
    wbio_ = wbio.get();
    SSL_set_bio(ssl_.get(), rbio.release(), wbio.release());  // ssl_ owns both now
    SSL_set_msg_callback_arg(ssl_.get(), &seen_);
    SSL_set_connect_state(ssl_.get());
  }

  // Host name or IP address the certificate must be valid for; SNI for names.
  void expect_name(const std::string& name) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
    bool ok;
    if (is_ipv4(name) || is_ipv6(name)) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) == 1 &&
           SSL_set_tlsext_host_name(ssl_.get(), name.c_str()) == 1;
    }
    if (!ok) throw Fail{"TLS: cannot use '" + printable(name) + "' as the server name: " + take_reason()};
    name_ = name;
  }

  void feed(const std::string& bytes) { put(bytes); }

  void handshake(Clock::time_point deadline, bool info_offers_tls) {
    int send_err = 0;
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_do_handshake(ssl_.get());
      const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
      if (send_err == 0) send_err = flush(deadline);  // our next flight, or our alert
      if (rc == 1) {
        if (send_err != 0) fail_io(send_err);
        return;
      }
      if (err != SSL_ERROR_WANT_READ) fail_handshake(err, info_offers_tls);
      if (send_err == ETIMEDOUT) fail_io(ETIMEDOUT);
      // Even after a failed send, read on: the server's alert explaining why may be waiting.
      std::string in;
      int rerr = 0;
      switch (read_some(fd_, in, deadline, rerr)) {
        case Read::data: put(in); break;
        case Read::eof: fail_eof(send_err, info_offers_tls);
        case Read::timeout: fail_io(ETIMEDOUT);
        case Read::error: fail_io(send_err != 0 ? send_err : rerr);
      }
    }
  }

  // Under TLS 1.3 the server judges our client certificate (or its absence) after our side of the
  // handshake is done, and says no with an alert. When it asked for one, give it until `until`.
  // A yes is application data or, from Go servers such as nats-server, a session ticket: Go sends
  // those only once the client certificate passed.
  void await_client_verdict(Clock::time_point until) {
    if (!seen_.cert_requested || SSL_version(ssl_.get()) < TLS1_3_VERSION) return;
    seen_.ticket = false;
    for (;;) {
      ERR_clear_error();
      char buf[4096];
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      (void)flush(until);
      if (n > 0 || seen_.ticket) return;  // the server talks to us: accepted
      const int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_ZERO_RETURN) fail_closed_after();
      if (err != SSL_ERROR_WANT_READ) fail("TLS: handshake failed with " + hp_ + ": " + take_reason());
      std::string in;
      int rerr = 0;
      switch (read_some(fd_, in, until, rerr)) {
        case Read::data: put(in); break;
        case Read::timeout: return;  // no objection in time: accepted
        case Read::eof:
        case Read::error: fail_closed_after();
      }
    }
  }

  // close_notify, best effort.
  void close() {
    ERR_clear_error();
    if (SSL_shutdown(ssl_.get()) < 0) ERR_clear_error();
    (void)flush(Clock::now());
  }

 private:
  [[noreturn]] void fail(std::string m) {
    ERR_clear_error();
    throw Fail{std::move(m)};
  }

  [[noreturn]] void fail_io(int err) {
    if (err == ETIMEDOUT) fail("TLS: handshake failed with " + hp_ + ": timed out");
    fail("TLS: handshake failed with " + hp_ + ": " + std::strerror(err));
  }

  [[noreturn]] void fail_closed_after() {
    fail("TLS: handshake failed with " + hp_ +
         ": the server closed the connection after the handshake (client certificate not accepted?)");
  }

  [[noreturn]] void fail_eof(int send_err, bool info_offers_tls) {
    if (const std::string p = plaintext_reason(info_offers_tls); !p.empty()) fail("TLS: handshake failed with " + hp_ + ": " + p);
    if (send_err != 0) fail_io(send_err);
    fail("TLS: handshake failed with " + hp_ + ": the server closed the connection" +
         (info_offers_tls ? "" : " (its INFO does not offer TLS on this port)"));
  }

  [[noreturn]] void fail_handshake(int err, bool info_offers_tls) {
    const long vr = SSL_get_verify_result(ssl_.get());
    if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      fail("TLS: certificate name mismatch: " + hp_ + " presented a certificate not valid for " + name_);
    }
    if (vr != X509_V_OK) {
      fail(std::string("TLS: certificate verify failed (") + X509_verify_cert_error_string(vr) + ") for " + hp_);
    }
    std::string reason = take_reason();
    if (const std::string p = plaintext_reason(info_offers_tls); !p.empty()) {
      reason = p;
    } else if (err == SSL_ERROR_ZERO_RETURN) {
      reason = "the server closed the connection";
    }
    fail("TLS: handshake failed with " + hp_ + ": " + reason);
  }

  // When the server answered our ClientHello with plaintext instead of a TLS record: why.
  std::string plaintext_reason(bool info_offers_tls) const {
    if (first_.empty()) return "";
    const auto c = static_cast<unsigned char>(first_[0]);
    if (c >= 0x14 && c <= 0x18) return "";  // a TLS record type: it speaks TLS
    if (starts_with_nocase(first_, "info")) {
      return "the server sent a plaintext INFO first (it is not set up for handshake_first)";
    }
    std::string line = first_.substr(0, first_.find_first_of("\r\n"));
    if (line.size() > 80) line = line.substr(0, 80) + "...";
    return "the server answered in plaintext: " + printable(line) +
           (info_offers_tls ? "" : " (its INFO does not offer TLS on this port)");
  }

  void put(const std::string& bytes) {
    if (bytes.empty()) return;
    if (first_.size() < 128) first_ += bytes.substr(0, 128 - first_.size());
    if (BIO_write(rbio_, bytes.data(), static_cast<int>(bytes.size())) != static_cast<int>(bytes.size())) {
      fail("internal: BIO_write: " + take_reason());
    }
  }

  // Sends what OpenSSL queued; 0 or an errno.
  int flush(Clock::time_point deadline) {
    char buf[16384];
    while (BIO_ctrl_pending(wbio_) > 0) {
      const int n = BIO_read(wbio_, buf, sizeof buf);
      if (n <= 0) break;
      if (const int err = send_all(fd_, std::string_view(buf, static_cast<size_t>(n)), deadline); err != 0) return err;
    }
    return 0;
  }

  SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  int fd_;
  std::string hp_;
  std::string name_;
  std::string first_;  // the first bytes the server sent during the handshake
  Seen seen_;
};

std::string one_line(std::string s) {
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = ' ';
  }
  return s;
}

}  // namespace

Probe probe(const std::string& url, const Tls& tls, std::chrono::milliseconds timeout) {
  return probe(url, tls, timeout, ::getaddrinfo);
}

Probe probe(const std::string& url, const Tls& tls, std::chrono::milliseconds timeout, Resolver resolver) {
  Probe result;
  try {
    ERR_clear_error();
    result.url = config::redact_url(url);
    const Endpoint ep = parse_upstream_url(url);
    const std::string hp = host_port(ep);
    CtxPtr ctx = make_context(tls);  // file problems first: they need no network to show
    const auto deadline = Clock::now() + timeout;  // the name lookup is inside it
    AddrPtr addrs = resolve(ep, resolver, deadline, timeout);
    Socket sock = connect_any(addrs.get(), hp, deadline);
    Info info{true, {}, {}};
    if (ep.scheme == "tls" && !tls.handshake_first) info = read_info(sock.get(), hp, deadline);
    Connection conn(ctx.get(), sock.get(), hp);
    conn.expect_name(tls.server_name.empty() ? ep.host : tls.server_name);
    conn.feed(info.leftover);
    conn.handshake(deadline, info.offers_tls);
    conn.await_client_verdict(std::min(deadline, Clock::now() + std::chrono::milliseconds(500)));
    conn.close();
    result.ok = true;
    result.server_version = info.version;
  } catch (const Fail& f) {
    result.error = f.message;
  } catch (const leaf::Error& e) {  // parse_upstream_url's config_error: already one line
    result.error = e.what();
  } catch (const std::exception& e) {
    result.error = std::string("internal: ") + e.what();
  } catch (...) {
    result.error = "internal: unknown exception";
  }
  ERR_clear_error();
  result.error = one_line(std::move(result.error));
  if (!result.ok && result.error.empty()) result.error = "internal: probe failed without a reason";
  return result;
}

}  // namespace leaf::preflight
