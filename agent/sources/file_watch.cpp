#include "agent/sources/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace leaf::sources {

namespace {
std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE;
}  // namespace

std::vector<WatchedDir> watched_dirs(const std::string& file) {
  std::vector<WatchedDir> out;
  std::string dir = parent_of(file);
  out.push_back({dir, {base_of(file), "..data"}});
  // Up from the file's folder: a folder holding `..data` is a Secret/ConfigMap mount root, whose
  // swap replaces the entry the path goes through (`sub` -> ..data/sub).
  std::string below = dir;
  for (int depth = 0; depth < 8 && dir != "/" && dir != "."; ++depth) {
    below = dir;
    dir = parent_of(dir);
    if (::access((dir + "/..data").c_str(), F_OK) == 0) out.push_back({dir, {"..data", base_of(below)}});
  }
  return out;
}

std::unique_ptr<FileWatch> FileWatch::open(const std::string& file, std::string& error) {
  std::unique_ptr<FileWatch> w(new FileWatch());
  w->fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (w->fd_ < 0) {
    error = std::strerror(errno);
    return nullptr;
  }
  for (auto& d : watched_dirs(file)) w->dirs_.push_back({d.path, d.names, -1});
  w->arm();
  if (w->dirs_.front().wd < 0) {
    error = parent_of(file) + ": " + std::strerror(errno);
    return nullptr;
  }
  return w;
}

FileWatch::~FileWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void FileWatch::arm() {
  // Adding a watch for a path again gives the inode it names now: after a swap, the new folder.
  for (auto& d : dirs_) {
    const int wd = ::inotify_add_watch(fd_, d.path.c_str(), kMask);
    if (wd < 0) continue;  // the folder is gone for a moment: the next event (or schedule) looks again
    if (d.wd >= 0 && d.wd != wd) ::inotify_rm_watch(fd_, d.wd);  // the replaced folder's
    d.wd = wd;
  }
}

bool FileWatch::changed() {
  alignas(struct inotify_event) char buf[4096];
  bool relevant = false;
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const struct inotify_event*>(buf + at);
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
      if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED)) {  // lost events, or a watched folder went away
        relevant = true;
        continue;
      }
      const std::string name = ev->len ? std::string(ev->name) : std::string();
      for (const auto& d : dirs_) {
        if (d.wd != ev->wd) continue;
        for (const auto& m : d.names) relevant = relevant || name == m;
      }
    }
  }
  if (relevant) arm();
  return relevant;
}

}  // namespace leaf::sources
