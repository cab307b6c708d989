#include "support/harness.hpp"

#include "agent/core/duration.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/sources/signer.hpp"
#include "container/nats_creds.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace harness {

// Below the kernel's ephemeral range (32768 and up on Linux), so no client socket's local port
// can take a port a test hands to a server, even while that server is stopped and restarted.
// Test processes run side by side (ctest -j): each port handed out is also claimed with a lock
// file held until this process exits, so two tests never get the same port, even when the first
// has not bound it yet or has stopped its server for a moment.
int free_port() {
  static std::mt19937 rng(std::random_device{}());
  static const std::string claims = std::string("/tmp/leaf-agent-test-ports-") + std::to_string(::getuid());
  ::mkdir(claims.c_str(), 0700);
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int port = pick(rng);
    const std::string claim = claims + "/" + std::to_string(port);
    const int lock = ::open(claim.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) continue;
    if (::flock(lock, LOCK_EX | LOCK_NB) != 0) {  // another test process has it
      ::close(lock);
      continue;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool ok = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (fd >= 0) ::close(fd);
    if (ok) return port;  // the lock stays held (and its fd open) until this process exits
    ::close(lock);
  }
  throw std::runtime_error("free_port: no free port in 20000-32000");
}

SilentPort::SilentPort() {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (;;) {
    port = free_port();
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) break;
  }
  ::listen(fd, 64);
}

SilentPort::~SilentPort() { ::close(fd); }

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/leaf-agent-test.XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::string stdin_text) {
  char tmpl[] = "/tmp/leaf-agent-proc.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  out_path_ = dir_ + "/stdout";
  err_path_ = dir_ + "/stderr";
  const std::string in_path = dir_ + "/stdin";
  write_file(in_path, stdin_text);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);  // own group: cleanup can reach grandchildren
    const int in = ::open(in_path.c_str(), O_RDONLY);
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (running()) stop(5s);
  ::kill(-pid_, SIGKILL);  // anything the child left in its group
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool Process::running() {
  if (status_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return r == 0;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (running()) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
  return status_;
}

int Process::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto code = wait(grace)) return *code;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  return wait(5s).value_or(-1);
}

std::string Process::out() const { return read_file(out_path_); }
std::string Process::err() const { return read_file(err_path_); }

std::vector<pid_t> pids_with(const std::string& needle) {
  std::vector<pid_t> out;
  const auto r = run({"pgrep", "-f", needle});
  std::istringstream in(r.out);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

namespace {
// /proc/N/stat's state and process group; false when N is gone.
bool proc_stat(const std::string& pid, char& state, int& pgrp) {
  std::FILE* f = std::fopen(("/proc/" + pid + "/stat").c_str(), "r");
  if (f == nullptr) return false;
  char buf[1024];
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses; the last ')' ends it.
  const char* close = std::strrchr(buf, ')');
  int ppid = 0;
  return close != nullptr && std::sscanf(close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3;
}
}  // namespace

bool running(pid_t pid) {
  char state = 0;
  int pgrp = 0;
  return pid > 0 && proc_stat(std::to_string(pid), state, pgrp) && state != 'Z' && state != 'X';
}

int running_in_group(pid_t pgid) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return -1;
  while (dirent* e = ::readdir(d)) {
    char state = 0;
    int pgrp = 0;
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9' && proc_stat(e->d_name, state, pgrp) && pgrp == pgid &&
        state != 'Z' && state != 'X') {
      ++n;
    }
  }
  ::closedir(d);
  return n;
}

Result run(std::vector<std::string> argv, std::map<std::string, std::string> env, std::string stdin_text,
           std::chrono::milliseconds timeout) {
  Process p(std::move(argv), std::move(env), std::move(stdin_text));
  Result r;
  auto code = p.wait(timeout);
  r.code = code ? *code : p.stop(1s);
  r.out = p.out();
  r.err = p.err();
  return r;
}

std::string agent_bin() { return LEAF_AGENT_BIN; }

std::string leaf_nats() {
  const char* bin = std::getenv("LEAF_AGENT_AGENT_NATS_SERVER");
  return bin && *bin ? bin : "nats-server";
}

std::array<int, 3> nats_version_of(const std::string& bin) {
  std::array<int, 3> v{};
  const Result r = run({bin, "--version"});
  const size_t at = r.out.find(" v");  // "nats-server: v2.10.27"
  if (at == std::string::npos || std::sscanf(r.out.c_str() + at, " v%d.%d.%d", &v[0], &v[1], &v[2]) != 3) return {};
  return v;
}

std::string hub_nats() {
  const char* bin = std::getenv("LEAF_TEST_HUB_NATS_SERVER");
  return bin && *bin ? bin : "nats-server";
}

Result agent(std::vector<std::string> args, std::map<std::string, std::string> env, std::string stdin_text,
             std::chrono::milliseconds timeout) {
  args.insert(args.begin(), agent_bin());
  return run(std::move(args), std::move(env), std::move(stdin_text), timeout);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

namespace {
size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
}  // namespace

HttpResponse http_get(const std::string& url, std::chrono::milliseconds timeout) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  return r;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& text, int mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

int file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

Hub::Hub(std::vector<std::string> server_cert_names) {
  port = free_port();
  leaf_port = free_port();
  http_port = free_port();
  const Result r = agent({"dev-hub", "--dir", dir_ / "hub", "--force", "--port", std::to_string(port),
                          "--leaf-port", std::to_string(leaf_port), "--http-port", std::to_string(http_port)});
  if (r.code != 0) throw std::runtime_error("dev-hub failed: " + r.err);
  if (!server_cert_names.empty()) {
    const leaf::pki::Pem ca{read_file(file("hub/ca.pem")), read_file(file("hub/ca-key.pem"))};
    const leaf::pki::Pem cert = leaf::pki::make_cert(ca, "renamed", server_cert_names, true, false, 1);
    write_file(file("hub/server.pem"), cert.cert_pem, 0644);
    write_file(file("hub/server-key.pem"), cert.key_pem, 0600);
  }
  start();
}

Hub::~Hub() { stop(); }

void Hub::start() {
  server_ = std::make_unique<Process>(std::vector<std::string>{hub_nats(), "-c", file("hub/hub.conf")});
  const std::string health = "http://127.0.0.1:" + std::to_string(http_port) + "/healthz";
  if (!wait_until([&] { return http_get(health).status == 200; }, 20s)) {
    throw std::runtime_error("hub did not become healthy: " + server_->err());
  }
}

void Hub::stop() {
  if (server_) server_->stop();
  server_.reset();
}

std::string Hub::leaf_url() const { return "tls://127.0.0.1:" + std::to_string(leaf_port); }
std::string Hub::client_url() const { return "tls://127.0.0.1:" + std::to_string(port); }

std::string Hub::lattice_account() const {
  std::string s = read_file(file("hub/lattice.pub"));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::vector<std::string> Hub::leaf_accounts() const {
  std::vector<std::string> out;
  const HttpResponse r = http_get("http://127.0.0.1:" + std::to_string(http_port) + "/leafz");
  if (r.status != 200) return out;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("leafs") || !j["leafs"].is_array()) return out;
  for (const auto& l : j["leafs"]) out.push_back(l.value("account", ""));
  return out;
}

NatsConn::~NatsConn() {
  if (conn) natsConnection_Destroy(conn);
}

std::unique_ptr<NatsConn> nats_connect(const std::string& url, const std::string& creds_file,
                                       const std::string& ca_file, int timeout_ms) {
  // The nonce is signed by nats_creds (nats.c 3.4.1's zero-byte bug, see container/nats_creds.hpp).
  std::optional<nats_creds::Callbacks> cb;
  if (!creds_file.empty()) cb = nats_creds::from_file(creds_file);
  auto c = std::make_unique<NatsConn>();
  c->status = nats_creds::connect(&c->conn, [&](natsOptions* opts) {
    natsOptions_SetURL(opts, url.c_str());
    natsOptions_SetTimeout(opts, timeout_ms);
    natsOptions_SetMaxReconnect(opts, 0);
    natsOptions_SetAllowReconnect(opts, false);  // so `cb` may end with this function
    if (!creds_file.empty()) nats_creds::use(opts, cb, creds_file);
    if (!ca_file.empty()) {
      natsOptions_SetSecure(opts, true);
      natsOptions_LoadCATrustedCertificates(opts, ca_file.c_str());
    }
    return NATS_OK;
  });
  if (c->status != NATS_OK) {
    c->error = nats_GetLastError(nullptr) ? nats_GetLastError(nullptr) : natsStatus_GetText(c->status);
    c->conn = nullptr;
  }
  return c;
}

std::string mint_user_creds(const Hub& hub, const std::string& account_key_file, std::int64_t ttl, std::string* subject) {
  const auto account = leaf::signer::load_account_key(hub.file(account_key_file));
  leaf::signer::UserRequest req;
  req.name = "test-user";
  req.ttl_seconds = ttl;
  req.leaf_only = true;
  auto m = leaf::signer::mint_user(account, req, leaf::unix_now());
  if (subject) *subject = m.subject;
  return std::string(m.creds.begin(), m.creds.end());
}

}  // namespace harness
