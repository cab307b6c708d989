// A tiny HTTPS/1.1 server for tests (OpenSSL): 127.0.0.1 on a kernel-chosen port, one connection
// at a time on its own thread, canned responses, "Connection: close". The request path is ignored.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "support/harness.hpp"

struct ssl_ctx_st;  // SSL_CTX

namespace harness {

class HttpsServer {
 public:
  // Loads the certificate chain and key (PEM files) and starts listening. Throws on failure.
  HttpsServer(const std::string& cert_pem_file, const std::string& key_pem_file);
  ~HttpsServer();  // stops the thread, closes the sockets
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  int port() const { return port_; }

  // Every request gets this status and body (default: 200, empty JSON object).
  void respond(int status, std::string body, std::string content_type = "application/json");
  // The next `n` requests get `status` (with a short text body) before the canned response.
  void fail_next(int n, int status);
  // Wait this long before answering each request (to provoke client timeouts).
  void delay(std::chrono::milliseconds d);
  // Require a client certificate issued by the CA in `ca_pem_file` for later connections.
  void require_client_cert(const std::string& ca_pem_file);

  std::string last_authorization() const;  // Authorization header of the last request ("" if none)
  int requests() const;     // complete HTTP requests read
  int connections() const;  // TCP connections accepted (including failed TLS handshakes)

 private:
  void run();
  void serve(int fd);
  bool stopping() const { return stop_.load(); }

  ssl_ctx_st* ctx_ = nullptr;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // self-pipe: the destructor wakes poll()
  int port_ = 0;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;  // interrupts delay() waits on stop
  int status_ = 200;
  std::string body_ = "{}";
  std::string content_type_ = "application/json";
  int fail_n_ = 0;
  int fail_status_ = 503;
  std::chrono::milliseconds delay_{0};
  std::string last_authorization_;
  int requests_ = 0;
  int connections_ = 0;

  std::thread thread_;
};

// An HttpsServer for https://127.0.0.1 with a certificate from a CA of its own (ca_file()): a
// credentials endpoint for the http source.
struct CredsEndpoint {
  CredsEndpoint();
  TempDir pki;
  std::unique_ptr<HttpsServer> server;
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server->port()) + "/creds"; }
  std::string ca_file() const { return pki / "ca.pem"; }
};

}  // namespace harness
