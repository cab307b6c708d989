// nats-server spends about 14 ms between exec and reading its config (the Go runtime and its
// packages start). The agent execs it first, with its config path a FIFO, and hands the config
// over once the bootstrap has checked everything: that start-up overlaps the agent's own work
// (fetching and validating credentials, rendering, writing). Until the hand-over nats-server has
// no config: it listens on nothing and connects nowhere, and a bootstrap that fails kills it.
//
// How the hand-over cannot lose the config: the agent holds the FIFO open read-write, so
// nats-server's open never blocks and its read waits for data. The bootstrap renames the regular
// nats.conf over the FIFO's path (so a reload or a restart reads a file), then the same bytes go
// into the FIFO. nats-server reads them from the FIFO if it had opened it, or from the file if it
// opens the path after the rename. The agent closes its end once the FIFO is drained (EOF ends
// nats-server's read) or once nats-server has logged (it read the file). It learns of the reads
// from inotify (IN_ACCESS on the FIFO), not by polling: under load nats-server may take seconds
// to get there, and a 1 ms poll cost 100 starting agents a core.
//
// If the agent dies before the hand-over, the kernel closes its end and nats-server reads an empty
// config just before its parent-death signal kills it: the caller passes the listen address on
// nats-server's command line too, so that even then it would listen on loopback only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/supervise/event_loop.hpp"

namespace leaf::prewarm {

class Server {
 public:
  // Makes `conf_path` a FIFO and spawns `argv` (which names it) with `env`, from the thread that
  // must own nats-server (PR_SET_PDEATHSIG). nullptr when that cannot be done: nats-server is then
  // started the usual way after the bootstrap (which also reports an exec failure).
  static std::unique_ptr<Server> start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                       const std::string& conf_path);
  Server() = default;
  ~Server();  // closes the FIFO; the process is the caller's
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  pid_t pid() const { return pid_; }
  int output_fd() const { return output_fd_; }    // its stdout+stderr
  const std::string& conf_path() const { return conf_path_; }

  // The config into the FIFO; false when it does not fit or the FIFO is gone (then kill it).
  bool hand_over(std::string_view config);
  // Everything handed over has been read: closing now ends nats-server's read with EOF.
  bool drained() const;
  // An inotify descriptor that becomes readable when the FIFO is read or closed by nats-server
  // (so the caller closes its end at once, without polling); -1 when inotify is unavailable.
  int events_fd() const { return events_fd_; }
  // Reads what events_fd() holds; true when nats-server closed the FIFO (nothing more to wait for).
  bool take_events();
  void close_fifo();
  // The last start's nats.conf, which start() moved aside, for the caller to remove off the loop
  // thread (freeing its blocks may wait for the disk); "" when there was none.
  std::string take_aside() { return std::exchange(aside_, std::string()); }
  void kill();  // SIGKILL to it and its process group (it has not had a config, or could not take it)

  // Removes what a prewarm at `conf_path` can leave behind: its FIFO under the temporary name,
  // and `conf_path` itself while it is still the FIFO (anything opening it would block). A
  // regular nats.conf is left alone.
  static void remove_fifo(const std::string& conf_path);

 private:
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int fifo_fd_ = -1;
  int events_fd_ = -1;
  std::string conf_path_;
  std::string aside_;  // the last start's nats.conf, moved aside; "" when there was none
};

// The hand-over after the config went into the FIFO: the agent's end is closed once nats-server
// has drained it (inotify says when), or has logged (it read the file: the owner calls end()),
// with a poll as the safety net should no inotify event come (every 250 ms; without inotify
// every 1 ms, for at most 5 s).
class HandOver {
 public:
  HandOver(EventLoop& loop, std::unique_ptr<Server> server);
  ~HandOver() { end(); }
  HandOver(const HandOver&) = delete;
  HandOver& operator=(const HandOver&) = delete;
  void end();
  bool done() const { return !server_; }

 private:
  void poll(std::chrono::milliseconds every, int polls_left);

  EventLoop& loop_;
  std::unique_ptr<Server> server_;
  EventLoop::TimerId timer_ = 0;
};

}  // namespace leaf::prewarm
