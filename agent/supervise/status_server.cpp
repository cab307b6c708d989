#include "agent/supervise/status_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"

namespace leaf {

namespace {
const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}
}  // namespace

StatusServer::StatusServer(EventLoop& loop, const std::string& listen, Handler handler)
    : loop_(loop), handler_(std::move(handler)) {
  const config::HostPort hp = config::parse_listen(listen, "agent.health_listen");
  const std::string& host = hp.host;
  sockaddr_storage addr{};
  socklen_t len;
  int family;
  if (host.find(':') != std::string::npos) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&addr);
    a6->sin6_family = family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(hp.port));
    inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr);
    len = sizeof *a6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&addr);
    a4->sin_family = family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(hp.port));
    inet_pton(AF_INET, host.c_str(), &a4->sin_addr);
    len = sizeof *a4;
  }
  listen_fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw config_error("agent.health_listen: cannot listen on " + listen + ": " + why);
  }
  watch_listener();
}

StatusServer::~StatusServer() {
  while (!conns_.empty()) close_conn(conns_.begin()->first);
  if (resume_) loop_.cancel(resume_);
  loop_.unwatch(listen_fd_);
  ::close(listen_fd_);
}

void StatusServer::watch_listener() {
  loop_.watch(listen_fd_, [this] { accept_all(); });
}

void StatusServer::pause_listener() {
  // The listener stays readable while a connection waits in the backlog, and epoll is level
  // triggered: watched, it would call accept4 in a loop that fails every time. 100 ms later
  // (a connection's 5 s may have ended, or a file been closed) it is tried again.
  loop_.unwatch(listen_fd_);
  resume_ = loop_.after(std::chrono::milliseconds(100), [this] {
    resume_ = 0;
    watch_listener();
    accept_all();
  });
}

void StatusServer::accept_all() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_listener();
      return;
    }
    if (conns_.size() >= kMaxConns) close_oldest();
    Conn& c = conns_[fd];
    c.seq = ++accepted_;
    c.deadline = loop_.after(std::chrono::seconds(5), [this, fd] { close_conn(fd); });
    loop_.watch(fd, [this, fd] { on_readable(fd); });
  }
}

void StatusServer::close_oldest() {
  auto oldest = conns_.begin();
  for (auto it = conns_.begin(); it != conns_.end(); ++it) {
    if (it->second.seq < oldest->second.seq) oldest = it;
  }
  if (oldest != conns_.end()) close_conn(oldest->first);
}

void StatusServer::close_conn(int fd) {
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  loop_.cancel(it->second.deadline);
  loop_.unwatch(fd);
  ::close(fd);
  conns_.erase(it);
}

void StatusServer::on_readable(int fd) {
  Conn& c = conns_[fd];
  char buf[2048];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n <= 0) {
    if (n < 0 && errno == EAGAIN) return;
    close_conn(fd);
    return;
  }
  c.request.append(buf, static_cast<size_t>(n));
  if (c.request.size() > 16 * 1024) return close_conn(fd);
  if (c.request.find("\r\n\r\n") == std::string::npos) return;

  // "GET /path HTTP/1.1"
  const size_t sp1 = c.request.find(' ');
  const size_t sp2 = c.request.find(' ', sp1 + 1);
  const std::string method = c.request.substr(0, sp1);
  std::string path = sp1 == std::string::npos ? "" : c.request.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  HttpResponse r;
  if (method != "GET" && method != "HEAD") {
    r = {405, "text/plain", "GET only\n"};
  } else {
    r = handler_(path);
  }
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) +
                    "\r\nContent-Type: " + r.content_type + "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  if (method != "HEAD") out += r.body;
  // Small responses fit the socket buffer; a slow reader gets what fits and a close.
  (void)!::write(fd, out.data(), out.size());
  close_conn(fd);
}

}  // namespace leaf
