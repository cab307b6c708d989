// The file rules on real files: bounded reads of regular files, the state directory checks,
// stale temporary files.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/io/fs.hpp"
#include "error_of.hpp"

using namespace leaf;
namespace sfs = std::filesystem;

namespace {
struct Dir {
  std::string path;
  Dir() {
    char t[] = "/tmp/leaf-fs.XXXXXX";
    path = ::mkdtemp(t);
  }
  ~Dir() { sfs::remove_all(path); }
  std::string operator/(const std::string& n) const { return path + "/" + n; }
};
int mode_of(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}
}  // namespace

TEST_CASE("fs: reads refuse what is not a regular file, or too large, at once") {
  Dir d;
  std::ofstream(d / "ok") << "hello";
  CHECK(fs::read_file(d / "ok") == "hello");
  sfs::create_symlink(d / "ok", d / "link");
  CHECK(fs::read_file(d / "link") == "hello");  // a symlinked file is fine (Kubernetes secrets)
  REQUIRE(::mkfifo((d / "fifo").c_str(), 0600) == 0);
  const std::string fifo = error_of([&] { fs::read_file(d / "fifo"); });
  CHECK(fifo == "cannot read " + (d / "fifo") + ": not a regular file (a FIFO); point it at a file");
  CHECK(error_of([&] { fs::read_secret_file(d / "fifo"); }).find("a FIFO") != std::string::npos);
  CHECK(error_of([] { fs::read_file("/dev/zero"); }).find("(a character device)") != std::string::npos);
  CHECK(error_of([&] { fs::read_file(d.path); }).find("(a directory)") != std::string::npos);
  try {
    fs::read_secret_file("/dev/zero", Exit::credentials);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == Exit::credentials);
  }
  std::ofstream(d / "big") << std::string(fs::kMaxInputFile + 1, 'x');
  CHECK(error_of([&] { fs::read_file(d / "big"); }).find("is too large") != std::string::npos);
  CHECK(error_of([&] { fs::check_regular_file(d / "big"); }).find("is too large") != std::string::npos);
  CHECK(error_of([&] { fs::read_file(d / "ok", Exit::config, 4); }).find("is too large") != std::string::npos);
}

TEST_CASE("fs: ensure_private_dir creates 0700, refuses others' and shared directories, chmods only its own") {
  Dir d;
  fs::ensure_private_dir(d / "a/b/state");
  CHECK(mode_of(d / "a/b/state") == 0700);
  // Existing and ours with 0750: used as is, not chmod'ed.
  REQUIRE(::mkdir((d / "mine").c_str(), 0750) == 0);
  ::chmod((d / "mine").c_str(), 0750);
  fs::ensure_private_dir(d / "mine");
  CHECK(mode_of(d / "mine") == 0750);
  // Writable by others: refused, untouched.
  REQUIRE(::mkdir((d / "open").c_str(), 0777) == 0);
  ::chmod((d / "open").c_str(), 0777);
  CHECK(error_of([&] { fs::ensure_private_dir(d / "open"); }).find("writable by group or others (mode 0777)") !=
        std::string::npos);
  CHECK(mode_of(d / "open") == 0777);
  CHECK(error_of([] { fs::ensure_private_dir("/tmp"); }).find("refusing to use /tmp") == 0);
  // Symlinks, also spelled "link/." and "link/".
  sfs::create_symlink(d / "mine", d / "link");
  for (const std::string& p : {d / "link", d / "link/.", d / "link/", d / "link/./"}) {
    CAPTURE(p);
    CHECK(error_of([&] { fs::ensure_private_dir(p); }).find("it is a symlink") != std::string::npos);
  }
  CHECK(error_of([&] { fs::ensure_private_dir(d / "link/../x"); }).find("contains '..'") != std::string::npos);
  // Owned by someone else (needs root to arrange).
  if (::geteuid() == 0) {
    REQUIRE(::mkdir((d / "theirs").c_str(), 0700) == 0);
    REQUIRE(::chown((d / "theirs").c_str(), 65534, 65534) == 0);
    CHECK(error_of([&] { fs::ensure_private_dir(d / "theirs"); }).find("owned by uid 65534") != std::string::npos);
  }
}

TEST_CASE("fs: remove_stale_temp_files removes only our interrupted writes") {
  Dir d;
  for (const char* n : {"upstream.creds.tmp.123", "nats.conf.tmp.4", "keep.tmp.x", "upstream.creds", ".tmp.5", "a.tmp."}) {
    std::ofstream(d / n) << "x";
  }
  ::mkdir((d / "dir.tmp.7").c_str(), 0700);
  CHECK(fs::remove_stale_temp_files(d.path) == 2);
  CHECK_FALSE(fs::exists(d / "upstream.creds.tmp.123"));
  CHECK_FALSE(fs::exists(d / "nats.conf.tmp.4"));
  for (const char* n : {"keep.tmp.x", "upstream.creds", ".tmp.5", "a.tmp.", "dir.tmp.7"}) CHECK(fs::exists(d / n));
  CHECK(fs::remove_stale_temp_files(d / "missing") == 0);
  ::chmod(d.path.c_str(), 0777);  // not ours to clean: left for ensure_private_dir to refuse
  std::ofstream(d / "x.tmp.1") << "x";
  CHECK(fs::remove_stale_temp_files(d.path) == 0);
  ::chmod(d.path.c_str(), 0700);
}
