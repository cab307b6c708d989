// /livez, /readyz, /status, /metrics on a loopback port, served from the event loop. GET only,
// one small response per connection: enough for probes and scrapers, and no thread of its own.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/supervise/event_loop.hpp"

namespace leaf {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class StatusServer {
 public:
  using Handler = std::function<HttpResponse(const std::string& path)>;
  // Binds `listen` (loopback host:port); throws Error(Exit::config) if it cannot.
  StatusServer(EventLoop& loop, const std::string& listen, Handler handler);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

 private:
  struct Conn {
    std::string request;
    EventLoop::TimerId deadline = 0;
  };
  void accept_all();
  void on_readable(int fd);
  void close_conn(int fd);

  EventLoop& loop_;
  Handler handler_;
  int listen_fd_ = -1;
  std::map<int, Conn> conns_;
};

}  // namespace leaf
