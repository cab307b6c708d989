#include "agent/supervise/health.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/core/error.hpp"

#include "agent/config/local_boundary.hpp"

namespace leaf::health {

namespace {
using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, ms_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

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

HttpResult http_get_local(const std::string& host_port, const std::string& path, long timeout_ms) {
  HttpResult r;
  config::HostPort hp;
  try {
    hp = config::parse_host_port(host_port, "address");
  } catch (const Error& e) {
    r.error = e.what();
    return r;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  if (const int rc = ::getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    r.error = std::string("cannot resolve ") + hp.host + ": " + ::gai_strerror(rc);
    return r;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, ::freeaddrinfo);
  Fd s;
  s.fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) {
    r.error = std::string("socket: ") + std::strerror(errno);
    return r;
  }
  if (::connect(s.fd, res->ai_addr, res->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      r.error = std::string("Couldn't connect to server: ") + std::strerror(errno);
      return r;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(s.fd, POLLOUT, deadline)) {
      r.error = "connect timed out after " + std::to_string(timeout_ms) + " ms";
      return r;
    }
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      r.error = std::string("Couldn't connect to server: ") + std::strerror(err);
      return r;
    }
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(s.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(s.fd, POLLOUT, deadline)) return r.error = "send timed out", r;
    } else {
      return r.error = std::string("send: ") + std::strerror(errno), r;
    }
  }
  std::string resp;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n > 0) {
      resp.append(buf, static_cast<size_t>(n));
      if (resp.size() > 16 * 1024 * 1024) return r.error = "response too large", r;
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(s.fd, POLLIN, deadline)) return r.error = "no response within " + std::to_string(timeout_ms) + " ms", r;
    } else {
      return r.error = std::string("recv: ") + std::strerror(errno), r;
    }
  }
  // "HTTP/1.x NNN reason\r\n headers \r\n\r\n body"
  const size_t head_end = resp.find("\r\n\r\n");
  if (resp.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos) return r.error = "not an HTTP response", r;
  const size_t sp = resp.find(' ');
  if (sp == std::string::npos || sp > head_end) return r.error = "not an HTTP response", r;
  r.status = std::strtol(resp.c_str() + sp + 1, nullptr, 10);
  r.body = resp.substr(head_end + 4);
  return r;
}

Check check_healthz(const config::Config& c) {
  const HttpResult r = http_get_local(c.local.monitor, "/healthz", 1000);
  if (r.status == 200) return {true, "ok"};
  return {false, r.status ? "/healthz returned " + std::to_string(r.status) : "/healthz: " + r.error};
}

Check check_leaf(const config::Config& c, LeafInfo* info) {
  if (c.dev()) return {true, "dev mode: no upstream"};
  const HttpResult r = http_get_local(c.local.monitor, "/leafz", 1000);
  if (r.status != 200) return {false, r.status ? "/leafz returned " + std::to_string(r.status) : "/leafz: " + r.error};
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return {false, "/leafz: not JSON"};
  const auto& leafs = j.value("leafs", nlohmann::json::array());
  if (!leafs.is_array() || leafs.empty()) return {false, "no leaf connection to the upstream yet"};
  const auto& l = leafs[0];
  const std::string up = l.value("ip", std::string("?")) + ":" + std::to_string(l.value("port", 0));
  const std::string rtt = l.value("rtt", std::string());
  const std::uint32_t subs = l.value("subscriptions", 0u);
  if (info) *info = {true, !rtt.empty() && rtt != "0s", subs > 0, subs, up};
  return {true, "connected to " + up + (subs > 0 ? " (accepted)" : " (awaiting the hub's interest)")};
}

namespace {
natsStatus connect_local(const std::string& listen, const std::string& creds, int timeout_ms, natsConnection** conn) {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return NATS_NO_MEMORY;
  const std::string url = "nats://" + listen;
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetTimeout(opts, timeout_ms);
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetName(opts, "leaf-agent health");
  // local.auth = jwt: the agent's own probe user (no subject rights), never the host's.
  if (!creds.empty()) natsOptions_SetUserCredentialsFromFiles(opts, creds.c_str(), nullptr);
  natsStatus s = natsConnection_Connect(conn, opts);
  natsOptions_Destroy(opts);
  return s;
}
}  // namespace

Check check_client(const config::Config& c) {
  natsConnection* conn = nullptr;
  const std::string creds = c.local.jwt() ? local_boundary::health_creds_path(c) : std::string();
  natsStatus s = connect_local(c.local.listen, creds, 1000, &conn);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn, 1000);
  Check out = s == NATS_OK ? Check{true, "flush ok on " + c.local.listen}
                           : Check{false, std::string("client on ") + c.local.listen + ": " + natsStatus_GetText(s)};
  if (conn) natsConnection_Destroy(conn);
  return out;
}

LocalClient::LocalClient(std::string listen, int timeout_ms, std::string creds)
    : listen_(std::move(listen)), creds_(std::move(creds)), timeout_ms_(timeout_ms) {}

LocalClient::~LocalClient() { reset(); }

void LocalClient::reset() {
  if (conn_) natsConnection_Destroy(conn_);
  conn_ = nullptr;
}

Check LocalClient::check() {
  // A connection that closed (nats-server restarted) is replaced once, in the same check.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (conn_ && natsConnection_IsClosed(conn_)) reset();
    const bool fresh = conn_ == nullptr;
    natsStatus s = fresh ? connect_local(listen_, creds_, timeout_ms_, &conn_) : NATS_OK;
    if (s == NATS_OK) s = natsConnection_FlushTimeout(conn_, timeout_ms_);
    if (s == NATS_OK) return {true, "flush ok on " + listen_};
    reset();
    if (fresh) return {false, std::string("client on ") + listen_ + ": " + natsStatus_GetText(s)};
  }
  return {false, "client on " + listen_ + ": unreachable"};
}

Report check_all(const config::Config& c, bool server_running, LeafInfo* info, LocalClient& client) {
  Report r;
  r.server = server_running ? Check{true, "running"} : Check{false, "nats-server is not running"};
  if (!server_running) {
    client.reset();
    return r;
  }
  r.healthz = check_healthz(c);
  r.leaf = check_leaf(c, info);
  r.client = (r.healthz.ok && r.leaf.ok) ? client.check() : Check{false, "not checked yet"};
  return r;
}

Report check_all(const config::Config& c, bool server_running, LeafInfo* info) {
  Report r;
  r.server = server_running ? Check{true, "running"} : Check{false, "nats-server is not running"};
  if (!server_running) return r;
  r.healthz = check_healthz(c);
  r.leaf = check_leaf(c, info);
  // Only bother a client connection once the cheaper checks pass.
  r.client = (r.healthz.ok && r.leaf.ok) ? check_client(c) : Check{false, "not checked yet"};
  return r;
}

}  // namespace leaf::health
