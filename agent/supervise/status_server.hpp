// /livez, /readyz, /status, /metrics on a loopback port, served from the event loop. GET only,
// one small response per connection: enough for probes and scrapers, and no thread of its own.
#pragma once

#include <cstdint>
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
  // Connections held at once (each for up to 5 s while its request comes): at the cap, the one
  // accepted first is closed for a new one, so idle connections cannot starve the probes.
  static constexpr size_t kMaxConns = 64;

  struct Conn {
    std::string request;
    EventLoop::TimerId deadline = 0;
    std::uint64_t seq = 0;  // accept order
  };
  void accept_all();
  void watch_listener();
  void pause_listener();  // the descriptor table is full: stop watching the listener a moment
  void on_readable(int fd);
  void close_conn(int fd);
  void close_oldest();

  EventLoop& loop_;
  Handler handler_;
  int listen_fd_ = -1;
  std::map<int, Conn> conns_;
  std::uint64_t accepted_ = 0;
  EventLoop::TimerId resume_ = 0;  // set while the listener is paused
};

}  // namespace leaf
