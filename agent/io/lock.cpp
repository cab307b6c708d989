#include "agent/io/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "agent/core/error.hpp"

namespace leaf::fs {

DirLock::DirLock(const std::string& dir) : path_(dir + "/agent.lock") {
  // O_NOFOLLOW: a link planted at the lock's name is refused, not followed.
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd_ < 0) throw config_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {0};
    const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
    const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    ::close(fd_);
    fd_ = -1;
    throw config_error("agent.state_dir " + dir + " is in use by leaf-agent pid " + (pid > 0 ? std::to_string(pid) : "?") +
                       "; give each agent its own agent.state_dir");
  }
  // The pid, fixed width and written in place: an ftruncate costs half a millisecond on ext4, at
  // every start (issue #10). Only a longer file, not ours, is cut. Without the pid the lock still
  // holds; a second agent just cannot name us.
  char pid[16];
  const int n = std::snprintf(pid, sizeof pid, "%-10ld\n", static_cast<long>(::getpid()));
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > n && ::ftruncate(fd_, n) != 0) return;
  (void)!::pwrite(fd_, pid, static_cast<size_t>(n), 0);
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace leaf::fs
