// The agent's own check client for local.auth = "tls": the same four protocol lines as
// health::LocalClient (INFO, CONNECT, PING, PONG), over TLS with the agent's health certificate
// (state_dir/health-cert.pem, mapped by the leaf to a user with no publish or subscribe right).
// NATS upgrades after the server's plain-text INFO; the server's certificate is verified against
// the local CA and the listen address. OpenSSL is loaded on first use (only in this mode).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/supervise/health.hpp"

namespace leaf::health {

struct TlsFiles {
  std::string ca_file, cert_file, key_file;
};

class TlsLocalClient {
 public:
  TlsLocalClient(std::string listen, int timeout_ms, TlsFiles files);
  ~TlsLocalClient();
  TlsLocalClient(const TlsLocalClient&) = delete;
  TlsLocalClient& operator=(const TlsLocalClient&) = delete;
  Check check();
  void reset();
  bool connected() const;

 private:
  struct Conn;
  using Clock = std::chrono::steady_clock;
  bool connect(Clock::time_point deadline, std::string& error);
  bool read_line(std::string& line, Clock::time_point deadline, std::string& error);
  bool write_all(const std::string& data, Clock::time_point deadline, std::string& error);

  std::string listen_;
  int timeout_ms_;
  TlsFiles files_;
  std::unique_ptr<Conn> conn_;
};

}  // namespace leaf::health
