#include "agent/io/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
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
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // The lock holds without the pid; a second agent just cannot name us.
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace leaf::fs
