#include "agent/io/fs.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <cstdio>

#include <sodium.h>

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

std::string kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a plain file";
}

std::string octal(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

// Opens `path` for reading and checks the descriptor: regular, at most `max_size` bytes.
void open_regular(Fd& f, const std::string& path, Exit code, std::size_t max_size) {
  // O_NONBLOCK: opening a FIFO with no writer would otherwise block forever.
  f.fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (f.fd < 0) throw Error(code, "cannot read " + path + ": " + errno_text());
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(code, "cannot stat " + path + ": " + errno_text());
  if (!S_ISREG(st.st_mode)) {
    throw Error(code, "cannot read " + path + ": not a regular file (" + kind_of(st.st_mode) + "); point it at a file");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > max_size) {
    throw Error(code, path + " is too large (" + std::to_string(st.st_size) + " bytes, at most " +
                          std::to_string(max_size) + "); point it at the right file");
  }
}

// Reads to the end, never more than `max_size` bytes (the file may grow after fstat).
template <class Str>
Str read_bounded(const std::string& path, Exit code, std::size_t max_size) {
  Fd f;
  open_regular(f, path, code, max_size);
  Str out;
  out.reserve(16 * 1024);  // one allocation for any credentials file; growth would copy a secret
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sodium_memzero(buf, sizeof buf);
      throw Error(code, "cannot read " + path + ": " + errno_text());
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_size) {
      sodium_memzero(buf, sizeof buf);
      throw Error(code, path + " is too large (more than " + std::to_string(max_size) + " bytes); point it at the right file");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  sodium_memzero(buf, sizeof buf);
  return out;
}

bool is_temp_name(const std::string& name) {
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at == 0 || at + 5 >= name.size()) return false;
  return name.find_first_not_of("0123456789", at + 5) == std::string::npos;
}
}  // namespace

void ensure_private_dir(const std::string& dir, mode_t mode) {
  if (dir.empty()) throw config_error("the state directory must not be empty");
  const std::filesystem::path given(dir);
  for (const auto& part : given) {
    if (part == "..") {
      throw config_error("refusing to use " + dir + ": it contains '..'; give the directory's path without it");
    }
  }
  // "link/." and "link/" name the link's target to the kernel: check the name without them.
  std::string path = given.lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty()) path = ".";
  bool created = false;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw config_error("cannot stat " + dir + ": " + errno_text());
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw config_error("cannot create directory " + parent.string() + ": " + ec.message());
    if (::mkdir(path.c_str(), mode) == 0) created = true;
    else if (errno != EEXIST) throw config_error("cannot create directory " + dir + ": " + errno_text());
    if (::lstat(path.c_str(), &st) != 0) throw config_error("cannot stat " + dir + ": " + errno_text());
  }
  if (S_ISLNK(st.st_mode)) throw config_error("refusing to use " + dir + ": it is a symlink; give the real directory");
  if (!S_ISDIR(st.st_mode)) throw config_error(dir + " exists and is not a directory");
  if (created) {
    if (::chmod(path.c_str(), mode) != 0) throw config_error("cannot chmod " + dir + ": " + errno_text());  // umask
    return;
  }
  // Someone else's directory, or one others can write to, could be swapped or read under us.
  if (st.st_uid != ::geteuid()) {
    throw config_error("refusing to use " + dir + ": it is owned by uid " + std::to_string(st.st_uid) +
                       ", not by this agent (uid " + std::to_string(::geteuid()) +
                       "); give a directory the agent owns, or one that does not exist yet");
  }
  if ((st.st_mode & 022) != 0) {
    throw config_error("refusing to use " + dir + ": it is writable by group or others (mode " + octal(st.st_mode) +
                       "); run chmod go-w on it, or give a directory that does not exist yet");
  }
}

std::size_t remove_stale_temp_files(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
    return 0;
  }
  std::size_t removed = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_temp_name(name)) continue;
    struct stat fst {};
    const std::string full = it->path().string();
    if (::lstat(full.c_str(), &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_uid != ::geteuid()) continue;
    if (::unlink(full.c_str()) == 0) ++removed;
  }
  return removed;
}

void write_atomic(const std::string& path, std::string_view content, mode_t mode, Durability durability) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    throw config_error("refusing to write " + path + ": it is a symlink");
  }
  const std::string dir = parent_of(path);
  std::string tmp;
  Fd f;
  for (int attempt = 0; attempt < 8 && f.fd < 0; ++attempt) {
    tmp = path + ".tmp." + std::to_string(random_u64());
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
  if (durability == Durability::durable && ::fsync(f.fd) != 0) fail("fsync");
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename");
  if (durability != Durability::durable) return;
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);  // make the rename durable; best effort
}

void check_regular_file(const std::string& path, Exit code, std::size_t max_size) {
  Fd f;
  open_regular(f, path, code, max_size);
}

std::string read_file(const std::string& path, Exit code, std::size_t max_size) {
  return read_bounded<std::string>(path, code, max_size);
}

SecretString read_secret_file(const std::string& path, Exit code, std::size_t max_size) {
  return read_bounded<SecretString>(path, code, max_size);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::uint64_t random_u64() {
  // Temporary names and jitter, not keys: never wait for the kernel's pool (GRND_NONBLOCK, early
  // boot of a microVM) nor fail where getrandom is missing or filtered (an old seccomp profile).
  // Names are opened with O_EXCL in a 0700 directory either way.
  std::uint64_t v = 0;
  auto* p = reinterpret_cast<unsigned char*>(&v);
  size_t got = 0;
  while (got < sizeof v) {
    const ssize_t n = ::getrandom(p + got, sizeof v - got, GRND_NONBLOCK);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < sizeof v) {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    static std::atomic<std::uint64_t> counter{0};
    v ^= (static_cast<std::uint64_t>(t.tv_nsec) << 20) ^ static_cast<std::uint64_t>(t.tv_sec) ^
         (static_cast<std::uint64_t>(::getpid()) << 44) ^ (++counter * 0x9E3779B97F4A7C15ULL);
  }
  return v;
}

}  // namespace leaf::fs
