#include "agent/supervise/health.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/core/creds.hpp"
#include "agent/core/encoding.hpp"
#include "agent/core/error.hpp"
#include "agent/core/nkeys.hpp"
#include "agent/core/text.hpp"
#include "agent/io/fs.hpp"
#include "agent/io/poll_wait.hpp"

#include "agent/config/local_boundary.hpp"
#include "agent/supervise/local_tls_client.hpp"

namespace leaf::health {

namespace {
using Clock = std::chrono::steady_clock;

using io::ms_left;
using io::wait_for;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

nlohmann::json Report::to_json() const {
  auto one = [](const Check& c) { return nlohmann::json{{"ok", c.ok}, {"detail", c.detail}}; };
  return {{"ready", ready()},
          {"checks", {{"nats_server", one(server)}, {"healthz", one(healthz)}, {"leaf", one(leaf)}, {"client", one(client)}}}};
}

namespace {
// A non-blocking TCP connection to a loopback host:port, bounded by `deadline`; -1 and `error` set on failure.
// No name lookup (a resolver has no deadline): "localhost" is 127.0.0.1, as every listener the
// agent configures is bound (config::parse_listen), and anything else must be an address.
int connect_local(const std::string& host_port, Clock::time_point deadline, long timeout_ms, std::string& error) {
  config::HostPort hp;
  try {
    hp = config::parse_listen(host_port, "address");
  } catch (const Error& e) {
    error = e.what();
    return -1;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  if (const int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = std::string("cannot resolve ") + hp.host + ": " + ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, ::freeaddrinfo);
  Fd s;
  s.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (::connect(s.fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      error = std::string("Couldn't connect to server: ") + std::strerror(errno);
      return -1;
    }
    if (!wait_for(s.fd, POLLOUT, deadline)) {
      error = "connect timed out after " + std::to_string(timeout_ms) + " ms";
      return -1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      error = std::string("Couldn't connect to server: ") + std::strerror(err);
      return -1;
    }
  }
  const int fd = s.fd;
  s.fd = -1;
  return fd;
}

// Sends all of `data` before the deadline; false with `error` set otherwise.
bool send_all(int fd, std::string_view data, Clock::time_point deadline, std::string& error) {
  for (size_t sent = 0; sent < data.size();) {
    if (Clock::now() >= deadline) return error = "send timed out", false;
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) return error = "send timed out", false;
    } else {
      return error = std::string("send: ") + std::strerror(errno), false;
    }
  }
  return true;
}
}  // namespace

HttpResult http_get_local(const std::string& host_port, const std::string& path, long timeout_ms) {
  return std::move(http_get_local_all(host_port, {path}, timeout_ms)[0]);
}

std::vector<HttpResult> http_get_local_all(const std::string& host_port, const std::vector<std::string>& paths,
                                           long timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const size_t n = paths.size();
  std::vector<HttpResult> out(n);
  std::vector<Fd> socks(n);
  std::vector<std::string> resp(n);
  auto drop = [&socks](size_t i) {
    ::close(socks[i].fd);
    socks[i].fd = -1;
  };
  for (size_t i = 0; i < n; ++i) {
    socks[i].fd = connect_local(host_port, deadline, timeout_ms, out[i].error);
    if (socks[i].fd < 0) continue;
    const std::string req = "GET " + paths[i] + " HTTP/1.0\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
    if (!send_all(socks[i].fd, req, deadline, out[i].error)) drop(i);
  }
  // Every answer read to its EOF, in whatever order the server sends them.
  std::vector<pollfd> fds;
  std::vector<size_t> which;
  char buf[16384];
  for (;;) {
    fds.clear();
    which.clear();
    for (size_t i = 0; i < n; ++i) {
      if (socks[i].fd >= 0) fds.push_back({socks[i].fd, POLLIN, 0}), which.push_back(i);
    }
    if (fds.empty()) break;
    const int rc = ::poll(fds.data(), fds.size(), ms_left(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) {
      for (const size_t i : which) {
        out[i].error = rc == 0 ? "no response within " + std::to_string(timeout_ms) + " ms" : std::string("poll: ") + std::strerror(errno);
        drop(i);
      }
      break;
    }
    for (size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const size_t i = which[k];
      for (;;) {
        if (Clock::now() >= deadline) {  // a server that keeps sending ends at the deadline too
          out[i].error = "no response within " + std::to_string(timeout_ms) + " ms";
          drop(i);
          break;
        }
        const ssize_t got = ::recv(socks[i].fd, buf, sizeof buf, 0);
        if (got > 0) {
          resp[i].append(buf, static_cast<size_t>(got));
          if (resp[i].size() > 16 * 1024 * 1024) {
            out[i].error = "response too large";
            drop(i);
            break;
          }
          continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
        if (got < 0) out[i].error = std::string("recv: ") + std::strerror(errno);
        drop(i);  // EOF: the whole answer is in
        break;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!out[i].error.empty()) continue;
    // "HTTP/1.x NNN reason\r\n headers \r\n\r\n body"
    const std::string& r = resp[i];
    const size_t head_end = r.find("\r\n\r\n");
    const size_t sp = r.find(' ');
    if (r.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos || sp == std::string::npos || sp > head_end) {
      out[i].error = "not an HTTP response";
      continue;
    }
    out[i].status = std::strtol(r.c_str() + sp + 1, nullptr, 10);
    out[i].body = r.substr(head_end + 4);
  }
  return out;
}

namespace {
Check healthz_verdict(const HttpResult& r) {
  if (r.status == 200) return {true, "ok"};
  return {false, r.status ? "/healthz returned " + std::to_string(r.status) : "/healthz: " + r.error};
}

Check leaf_verdict(const HttpResult& r, LeafInfo* info) {
  if (r.status != 200) return {false, r.status ? "/leafz returned " + std::to_string(r.status) : "/leafz: " + r.error};
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return {false, "/leafz: not JSON"};
  const auto& leafs = j.value("leafs", nlohmann::json::array());
  if (!leafs.is_array() || leafs.empty()) return {false, "no leaf connection to the upstream yet"};
  // With several remotes (a user template's), the first one the hub has accepted speaks; the
  // built-in template has one.
  const nlohmann::json* pick = &leafs[0];
  for (const auto& l : leafs) {
    if (l.is_object() && l.value("subscriptions", 0u) > 0) {
      pick = &l;
      break;
    }
  }
  const auto& l = *pick;
  if (!l.is_object()) return {false, "/leafz: not JSON"};
  const std::string up = l.value("ip", std::string("?")) + ":" + std::to_string(l.value("port", 0));
  const std::uint32_t subs = l.value("subscriptions", 0u);
  if (info) *info = {true, subs > 0, subs, up};
  return {true, "connected to " + up + (subs > 0 ? " (accepted)" : " (awaiting the hub's interest)")};
}
}  // namespace

Check check_healthz(const config::Config& c) { return healthz_verdict(http_get_local(c.local.monitor, "/healthz", 1000)); }

Check check_leaf(const config::Config& c, LeafInfo* info) {
  if (c.dev()) return {true, "dev mode: no upstream"};
  return leaf_verdict(http_get_local(c.local.monitor, "/leafz", 1000), info);
}

Check check_client(const config::Config& c) { return LocalClient(c).check(); }

LocalClient::LocalClient(std::string listen, int timeout_ms, std::string creds)
    : listen_(std::move(listen)), creds_(std::move(creds)), timeout_ms_(timeout_ms) {}

LocalClient::LocalClient(const config::Config& c)
    : LocalClient(c.local.listen, 1000, c.local.jwt() ? local_boundary::health_creds_path(c) : std::string()) {
  if (c.local.tls()) {
    const auto f = local_boundary::tls_files(c);
    tls_ = std::make_unique<TlsLocalClient>(c.local.listen, 1000, TlsFiles{f.ca, f.health_cert, f.health_key});
  }
}

LocalClient::~LocalClient() { reset(); }

bool LocalClient::connected() const { return tls_ ? tls_->connected() : fd_ >= 0; }

void LocalClient::reset() {
  if (tls_) tls_->reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  in_.clear();
}

// The next protocol line ("\r\n" removed) before the deadline; false with `error` on EOF, error or timeout.
bool LocalClient::read_line(std::string& line, Clock::time_point deadline, std::string& error) {
  for (;;) {
    if (const size_t eol = in_.find("\r\n"); eol != std::string::npos) {
      line = in_.substr(0, eol);
      in_.erase(0, eol + 2);
      return true;
    }
    if (in_.size() > 64 * 1024) return error = "protocol line too long", false;
    // On every pass, not only when the socket runs dry: a peer that never stops sending (lines
    // the check skips) must not hold it past its deadline.
    if (Clock::now() >= deadline) return error = "no answer within " + std::to_string(timeout_ms_) + " ms", false;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      in_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return error = "connection closed by nats-server", false;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd_, POLLIN, deadline)) return error = "no answer within " + std::to_string(timeout_ms_) + " ms", false;
    } else {
      return error = std::string("recv: ") + std::strerror(errno), false;
    }
  }
}

// INFO, then CONNECT (signing the server's nonce when local.auth = jwt) and the first PING.
bool LocalClient::handshake(Clock::time_point deadline, std::string& error) {
  std::string line;
  if (!read_line(line, deadline, error)) return false;
  if (line.rfind("INFO ", 0) != 0) return error = "not a NATS server (no INFO)", false;
  const auto info = nlohmann::json::parse(line.substr(5), nullptr, false);
  if (!info.is_object()) return error = "not a NATS server (INFO is not JSON)", false;
  if (info.value("tls_required", false)) return error = "the local listener requires TLS, which the agent's check does not speak", false;
  nlohmann::json connect = {{"verbose", false}, {"pedantic", false}, {"lang", "leaf-agent"}, {"version", LEAF_AGENT_VERSION},
                            {"protocol", 1}, {"name", "leaf-agent health"}, {"headers", false}};
  if (!creds_.empty()) {
    try {
      const creds::Creds cr = creds::parse(fs::read_secret_file(creds_));
      const auto kp = nkeys::KeyPair::from_seed(std::string_view(cr.seed.data(), cr.seed.size()));
      const std::string nonce = info.value("nonce", std::string());
      connect["jwt"] = cr.jwt;
      connect["sig"] = base64url_encode(kp.sign(as_bytes(nonce)));
    } catch (const std::exception& e) {
      return error = std::string("cannot use ") + creds_ + ": " + e.what(), false;
    }
  }
  return send_all(fd_, "CONNECT " + connect.dump() + "\r\n", deadline, error);
}

Check LocalClient::check() {
  if (tls_) return tls_->check();
  const auto fail = [this](const std::string& why) {
    reset();
    return Check{false, "client on " + listen_ + ": " + why};
  };
  // One deadline for the whole check, the reconnect included, set before its first call.
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  // A connection that closed (nats-server restarted) is replaced once, in the same check.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::string error;
    const bool fresh = fd_ < 0;
    if (fresh) {
      fd_ = connect_local(listen_, deadline, timeout_ms_, error);
      if (fd_ < 0) return fail(error);
      if (!handshake(deadline, error)) return fail(error);
    }
    // PING, then lines until its PONG: the server's own PINGs are answered, -ERR ends it.
    bool ok = send_all(fd_, "PING\r\n", deadline, error);
    std::string line;
    while (ok && (ok = read_line(line, deadline, error))) {
      if (line == "PONG") return {true, "ping ok on " + listen_};
      if (line == "PING") {
        ok = send_all(fd_, "PONG\r\n", deadline, error);
      } else if (line.rfind("-ERR", 0) == 0) {
        return fail(text::one_line(line.substr(line.size() > 5 ? 5 : line.size())));
      }  // +OK, INFO updates: nothing to do
    }
    if (fresh) return fail(error);
    reset();  // a stale connection: try once with a new one
  }
  return fail("unreachable");
}

Report check_all(const config::Config& c, bool server_running, LeafInfo* info, LocalClient& client) {
  Report r;
  r.server = server_running ? Check{true, "running"} : Check{false, "nats-server is not running"};
  if (!server_running) {
    client.reset();
    return r;
  }
  if (c.dev()) {
    r.healthz = check_healthz(c);
    r.leaf = check_leaf(c, info);
  } else {
    const auto answers = http_get_local_all(c.local.monitor, {"/healthz", "/leafz"}, 1000);
    r.healthz = healthz_verdict(answers[0]);
    r.leaf = leaf_verdict(answers[1], info);
  }
  // The client is checked (and connected) before the leaf is up: the check that follows the
  // hub's acceptance then costs it one PING, not a connection.
  r.client = r.healthz.ok ? client.check() : Check{false, "not checked yet"};
  return r;
}

Report check_all(const config::Config& c, bool server_running, LeafInfo* info) {
  LocalClient client(c);  // connects only if the cheaper checks pass
  return check_all(c, server_running, info, client);
}

supervise::CheckResult check_result(long seq, const Report& r, const LeafInfo& info) {
  supervise::CheckResult res;
  res.seq = seq;
  res.server_ok = r.server.ok;
  res.healthz_ok = r.healthz.ok;
  res.leaf_listed = r.leaf.ok;
  res.client_ok = r.client.ok;
  res.leaf_accepted = info.accepted;  // the hub's interest: the verdict (Readiness::check_done)
  res.upstream = info.upstream;
  for (const auto* chk : {&r.server, &r.healthz, &r.leaf, &r.client}) {
    if (!chk->ok) {
      res.failure = chk->detail;
      break;
    }
  }
  return res;
}

}  // namespace leaf::health
