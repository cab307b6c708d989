#include "agent/supervise/prewarm.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/supervise/process.hpp"

namespace leaf::prewarm {

std::unique_ptr<Server> Server::start(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                      const std::string& conf_path) {
  const std::string fifo = conf_path + ".fifo";
  ::unlink(fifo.c_str());  // an interrupted start's
  if (::mkfifo(fifo.c_str(), 0600) != 0) return nullptr;
  // Read-write: never blocks, and keeps the pipe alive whether or not nats-server has opened it.
  const int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  // The last start's nats.conf is moved aside, not replaced: replacing it frees its blocks at
  // once, and on a disk mounted with `discard` that waits for the device (0.8 ms here, with
  // nats-server not yet exec'd). Its temporary name is one the next start's lock removes, should
  // this agent die before its caller removes it (take_aside).
  const std::string aside = conf_path + ".tmp." + std::to_string(::getpid());
  const bool moved = fd >= 0 && ::rename(conf_path.c_str(), aside.c_str()) == 0;
  if (fd < 0 || ::rename(fifo.c_str(), conf_path.c_str()) != 0) {
    if (fd >= 0) ::close(fd);
    ::unlink(fifo.c_str());
    if (moved) ::rename(aside.c_str(), conf_path.c_str());
    return nullptr;
  }
  process::SpawnResult r;
  try {
    r = process::try_spawn(argv, env, {/*capture=*/true, /*die_with_parent=*/true, /*own_process_group=*/true});
  } catch (...) {
    r.error_errno = -1;
  }
  if (r.error_errno != 0) {
    ::close(fd);
    ::unlink(conf_path.c_str());
    if (moved) ::rename(aside.c_str(), conf_path.c_str());
    return nullptr;
  }
  auto s = std::unique_ptr<Server>(new Server);
  // Watched by inode: the watch stays with the FIFO when the bootstrap renames a file over its path.
  s->events_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (s->events_fd_ >= 0 && ::inotify_add_watch(s->events_fd_, conf_path.c_str(), IN_ACCESS | IN_CLOSE_NOWRITE) < 0) {
    ::close(s->events_fd_);
    s->events_fd_ = -1;
  }
  s->pid_ = r.spawned.pid;
  s->output_fd_ = r.spawned.output_fd;
  s->fifo_fd_ = fd;
  s->conf_path_ = conf_path;
  if (moved) s->aside_ = aside;
  return s;
}

Server::~Server() {
  close_fifo();
  if (events_fd_ >= 0) ::close(events_fd_);
}

bool Server::take_events() {
  bool closed = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    const ssize_t n = ::read(events_fd_, buf, sizeof buf);
    if (n <= 0) return closed;
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      if (e->mask & IN_CLOSE_NOWRITE) closed = true;
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

bool Server::hand_over(std::string_view config) {
  if (fifo_fd_ < 0) return false;
  if (config.size() > 65536 && ::fcntl(fifo_fd_, F_SETPIPE_SZ, static_cast<int>(config.size())) < 0) return false;
  // Non-blocking into an empty pipe at least as large as the text: all of it or nothing.
  const ssize_t n = ::write(fifo_fd_, config.data(), config.size());
  return n == static_cast<ssize_t>(config.size());
}

bool Server::drained() const {
  int left = 0;
  return fifo_fd_ < 0 || (::ioctl(fifo_fd_, FIONREAD, &left) == 0 && left == 0);
}

void Server::kill() {
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

void Server::remove_fifo(const std::string& conf_path) {
  ::unlink((conf_path + ".fifo").c_str());
  struct stat st {};
  if (::lstat(conf_path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) ::unlink(conf_path.c_str());
}


void Server::close_fifo() {
  if (fifo_fd_ >= 0) ::close(fifo_fd_);
  fifo_fd_ = -1;
}

HandOver::HandOver(EventLoop& loop, std::unique_ptr<Server> server) : loop_(loop), server_(std::move(server)) {
  using namespace std::chrono_literals;
  if (server_->events_fd() >= 0) {
    loop_.watch(server_->events_fd(), [this] {
      if (server_ && (server_->take_events() || server_->drained())) end();
    });
    poll(250ms, -1);
  } else {
    poll(1ms, 5000);  // no inotify (e.g. the uid's instances used up)
  }
}

void HandOver::poll(std::chrono::milliseconds every, int polls_left) {
  timer_ = 0;
  if (!server_) return;
  if (server_->drained() || polls_left == 0) return end();
  timer_ = loop_.after(every, [this, every, left = polls_left > 0 ? polls_left - 1 : polls_left] { poll(every, left); });
}

void HandOver::end() {
  if (!server_) return;
  if (timer_) loop_.cancel(timer_), timer_ = 0;
  if (server_->events_fd() >= 0) loop_.unwatch(server_->events_fd());
  server_.reset();  // closes the FIFO: EOF ends nats-server's read
}

}  // namespace leaf::prewarm
