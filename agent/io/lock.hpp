// One agent per state_dir: an exclusive flock on <state_dir>/agent.lock, held for the agent's
// life (the kernel drops it when the process dies, however it dies). The holder's pid is written
// into the file so that a second agent can name it.
#pragma once

#include <string>

namespace leaf::fs {

class DirLock {
 public:
  // Takes the lock or throws Error(Exit::config): "state_dir D is in use by leaf-agent pid N ...".
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace leaf::fs
