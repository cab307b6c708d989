// Updates of the credentials file (source = "file"), as they happen: a plain file is replaced by
// a rename or rewritten; a Kubernetes Secret or ConfigMap volume swaps its `..data` symlink at the
// mount's root, which may be folders above the file (credentials.file = /mnt/secret/sub/x.creds).
// So the file's folder is watched for its name, and every folder above it that holds `..data`
// for that swap (watching the file itself would follow the old inode). The owner polls fd() on
// its loop and calls changed().
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace leaf::sources {

class FileWatch {
 public:
  // nullptr, with `error` set, when the folder cannot be watched (no inotify instance left...):
  // the refresh schedule still re-reads the file.
  static std::unique_ptr<FileWatch> open(const std::string& file, std::string& error);
  ~FileWatch();
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;

  int fd() const { return fd_; }
  // Reads the pending events: true when one may concern the file. Watches again what a swap
  // replaced (the file's folder seen through a swapped symlink is a new folder).
  bool changed();

 private:
  FileWatch() = default;
  void arm();

  struct Dir {
    std::string path;
    std::vector<std::string> names;  // the entries of it that matter
    int wd = -1;
  };
  int fd_ = -1;
  std::vector<Dir> dirs_;
};

// The folders to watch for `file` and the names in each that matter (see above). Pure but for
// looking for `..data` entries on the way up.
struct WatchedDir {
  std::string path;
  std::vector<std::string> names;
};
std::vector<WatchedDir> watched_dirs(const std::string& file);

}  // namespace leaf::sources
