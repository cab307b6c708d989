// Test harness for integration tests: real processes, free ports, temp dirs, HTTP and NATS
// clients. Everything a test starts is stopped by a destructor, so a failing CHECK leaks nothing.
#pragma once

#include <nats/nats.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace harness {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A free TCP port on 127.0.0.1, chosen by the kernel at run time.
int free_port();

// Processes whose command line matches `needle` (pgrep -f), e.g. a state_dir path: none may
// outlive a test.
std::vector<pid_t> pids_with(const std::string& needle);

// Whether `pid` runs: it exists and has not exited. A zombie has: an orphan's waits for PID 1,
// which on the CI machine reaps up to 2 s late, so kill(pid, 0) says nothing about a stop.
bool running(pid_t pid);
// How many processes of process group `pgid` run (as running()).
int running_in_group(pid_t pgid);

// A directory under $TMPDIR, removed with everything in it when the object dies.
// A TCP port that accepts connections (the kernel's backlog) and never says a word: the worst
// hub, credentials endpoint or local listener there is.
struct SilentPort {
  int fd = -1;
  int port = 0;
  SilentPort();
  ~SilentPort();
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  std::string url(const std::string& scheme = "tls") const { return scheme + "://127.0.0.1:" + std::to_string(port); }
};

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A child process with stdout and stderr captured to files. Killed (TERM, then KILL) when the
// object dies if still running.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
          std::string stdin_text = "");
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends `sig`; does not wait.
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit code (128+signal if killed) or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit code.
  int stop(std::chrono::milliseconds grace = 10s);
  std::string out() const;  // stdout so far
  std::string err() const;  // stderr so far

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_, dir_;
};

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs to completion (killed after `timeout`).
Result run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
           std::string stdin_text = "", std::chrono::milliseconds timeout = 60s);

// Runs leaf-agent (the binary under test) with `args`.
Result agent(std::vector<std::string> args, std::map<std::string, std::string> env = {},
             std::string stdin_text = "", std::chrono::milliseconds timeout = 60s);
std::string agent_bin();

// The nats-server binaries a test runs: the leaf's (what leaf-agent runs, and what tests run
// beside it, `-t` included) and the hub's. The release matrix (CMakeLists.txt) runs the suite's
// leaf scenarios with each nats-server release users run, given as --leaf-nats and --hub-nats to
// the test binary (tests/doctest_main.cpp); the leaf's reaches leaf-agent as
// LEAF_AGENT_AGENT_NATS_SERVER. Default: nats-server on PATH, for both.
std::string leaf_nats();
std::string hub_nats();
// `bin --version` as {major, minor, patch} ({0, 0, 0} if it prints none).
std::array<int, 3> nats_version_of(const std::string& bin);

// Polls `pred` every 20 ms until true or `timeout`.
bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

struct HttpResponse {
  long status = 0;  // 0: no response (connection refused etc.)
  std::string body;
};
HttpResponse http_get(const std::string& url, std::chrono::milliseconds timeout = 2s);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text, int mode = 0600);
int file_mode(const std::string& path);  // st_mode & 07777

// A dev hub from `leaf-agent dev-hub` on free ports, running as a real nats-server.
class Hub {
 public:
  // With `server_cert_names`, the hub's certificate is re-issued for just those names (to make
  // a name mismatch).
  explicit Hub(std::vector<std::string> server_cert_names = {});
  ~Hub();
  std::string dir() const { return dir_.path(); }
  std::string file(const std::string& name) const { return dir_ / name; }
  int port = 0, leaf_port = 0, http_port = 0;
  std::string leaf_url() const;   // tls://127.0.0.1:<leaf_port>
  std::string client_url() const;
  std::string lattice_account() const;
  // Connected leaf nodes as the hub's /leafz reports them (account of each).
  std::vector<std::string> leaf_accounts() const;
  void start();
  void stop();
  Process* process() { return server_.get(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> server_;
};

// A LEAFNODE-only user of the account whose signing key is `account_key_file` (a file of the
// hub's dir, e.g. "hub/lattice.nk"), living `ttl` seconds from now, as .creds text; its subject
// (U...) in `subject`. Minted with the agent's own signer.
std::string mint_user_creds(const Hub& hub, const std::string& account_key_file, std::int64_t ttl,
                            std::string* subject = nullptr);

// nats.c connection, closed when the object dies.
struct NatsConn {
  natsConnection* conn = nullptr;
  natsStatus status = NATS_OK;
  std::string error;
  ~NatsConn();
  bool ok() const { return conn != nullptr; }
};

// Connects to `url`; with `creds_file` and/or `ca_file` for the hub's TLS client port.
std::unique_ptr<NatsConn> nats_connect(const std::string& url, const std::string& creds_file = "",
                                       const std::string& ca_file = "", int timeout_ms = 3000);

}  // namespace harness
