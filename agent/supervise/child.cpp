#include "agent/supervise/child.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace leaf {

Child::~Child() {
  if (output_fd_ < 0) return;  // no flush: nobody listens to lines any more
  loop_.unwatch(output_fd_);
  ::close(output_fd_);
}

int Child::start(const std::vector<std::string>& argv, const std::vector<std::string>& env, LineFn on_line) {
  const bool capture = static_cast<bool>(on_line);
  const auto r = process::try_spawn(argv, env, {capture, /*die_with_parent=*/true, /*own_process_group=*/true});
  if (r.error_errno != 0) return r.error_errno;
  pid_ = group_ = r.spawned.pid;
  if (capture) {
    output_fd_ = r.spawned.output_fd;
    reader_ = std::make_unique<process::LineReader>(std::move(on_line));
    watch_output();
  }
  return 0;
}

void Child::adopt(pid_t pid, int output_fd, LineFn on_line) {
  pid_ = group_ = pid;
  output_fd_ = output_fd;
  reader_ = std::make_unique<process::LineReader>(std::move(on_line));
  watch_output();
}

bool Child::signal(int sig) {
  if (pid_ <= 0) return false;
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);  // not (yet) a group leader: the process itself
  if (sig != SIGKILL) ::kill(-pid_, SIGCONT);
  return true;
}

bool Child::forward(int sig) {
  if (pid_ <= 0) return false;
  ::kill(pid_, sig);
  return true;
}

void Child::signal_leftovers(int sig) const {
  if (pid_ > 0 || group_ <= 0) return;  // still running: not leftovers
  ::kill(-group_, sig);
  if (sig != SIGKILL) ::kill(-group_, SIGCONT);
}

std::optional<int> Child::reaped(pid_t pid, int status) {
  if (pid_ <= 0 || pid != pid_) return std::nullopt;
  pid_ = -1;        // first: a decision taken on the last lines below finds the child gone
  read_output();    // what it wrote before it exited (the reason for a failure, often)
  close_output();
  return process::exit_code(status);
}

void Child::watch_output() {
  if (output_fd_ >= 0) loop_.watch(output_fd_, [this] { read_output(); });
}

void Child::read_output() {
  char buf[4096];
  while (output_fd_ >= 0) {
    const ssize_t n = ::read(output_fd_, buf, sizeof buf);
    if (n > 0) {
      reader_->feed(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || errno != EAGAIN) close_output();  // EOF: the process is exiting
    return;
  }
}

void Child::close_output() {
  if (output_fd_ < 0) return;
  if (reader_) reader_->flush();
  loop_.unwatch(output_fd_);
  ::close(output_fd_);
  output_fd_ = -1;
}

}  // namespace leaf
