#include "agent/io/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "agent/core/error.hpp"

namespace leaf::fs {

namespace {
std::string errno_text() { return std::strerror(errno); }

std::string parent_of(const std::string& path) {
  const auto p = std::filesystem::path(path).parent_path();
  return p.empty() ? "." : p.string();
}

// Closes the descriptor on every path out.
struct Fd {
  int fd = -1;
  ~Fd() { if (fd >= 0) ::close(fd); }
};
}  // namespace

void ensure_private_dir(const std::string& dir, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw config_error("cannot create directory " + dir + ": " + ec.message());
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) throw config_error("cannot stat " + dir + ": " + errno_text());
  if (S_ISLNK(st.st_mode)) throw config_error("refusing to use " + dir + ": it is a symlink");
  if (!S_ISDIR(st.st_mode)) throw config_error(dir + " exists and is not a directory");
  if ((st.st_mode & 07777) != mode && ::chmod(dir.c_str(), mode) != 0) {
    throw config_error("cannot chmod " + dir + ": " + errno_text());
  }
}

void write_atomic(const std::string& path, std::string_view content, mode_t mode) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    throw config_error("refusing to write " + path + ": it is a symlink");
  }
  const std::string dir = parent_of(path);
  std::string tmp;
  Fd f;
  std::random_device rd;
  for (int attempt = 0; attempt < 8 && f.fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(rd());
    // O_EXCL|O_NOFOLLOW: never write through a link someone planted at the temp name.
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (f.fd < 0 && errno != EEXIST) break;
  }
  if (f.fd < 0) throw config_error("cannot create a file in " + dir + ": " + errno_text());
  auto fail = [&](const std::string& what) {
    const std::string reason = errno_text();
    ::unlink(tmp.c_str());
    throw config_error("cannot write " + path + " (" + what + "): " + reason);
  };
  if (::fchmod(f.fd, mode) != 0) fail("chmod");  // umask must not widen or narrow it
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(f.fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(f.fd) != 0) fail("fsync");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);  // make the rename durable; best effort
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("cannot read " + path + ": " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SecretString read_secret_file(const std::string& path, Exit code) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) throw Error(code, "cannot read " + path + ": " + errno_text());
  SecretString out;
  out.reserve(4096);  // one allocation for any .creds file; growth would copy the secret
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(code, "cannot read " + path + ": " + errno_text());
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  sodium_memzero(buf, sizeof buf);
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace leaf::fs
