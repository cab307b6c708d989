// Small file-system effects with the safety rules the agent needs: secrets 0600 in 0700
// directories, atomic replacement (temp file, fsync, rename), never following a symlink at the
// target, bounded reads of regular files only. Throws leaf::Error with the path in the message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "agent/core/error.hpp"
#include "agent/core/secret.hpp"

namespace leaf::fs {

// Every file the agent reads (config, template, credentials, token, seed, CA, certificate, key)
// is small; anything larger is a mistake or an attack (/dev/zero), refused before it fills memory.
constexpr std::size_t kMaxInputFile = 1024 * 1024;

// The state directory: `dir` must not contain ".." components (the kernel and a lexical check
// disagree about ".." after a symlink). Missing: created (with parents) with `mode`. Existing: it
// must be a real directory (not a symlink, also not "link/."), owned by our effective uid, and
// not writable by group or others; it is never chmod'ed. Throws Error(Exit::config) naming the fix.
void ensure_private_dir(const std::string& dir, mode_t mode = 0700);

// Removes what an interrupted write_atomic left in `dir`: regular files named "<name>.tmp.<digits>"
// owned by us. Does nothing when `dir` is missing, a symlink, or not ours (ensure_private_dir then
// reports it). Returns how many files were removed. Call at start, before writing anything.
std::size_t remove_stale_temp_files(const std::string& dir);

// Write `content` to `path` atomically with `mode`: a temp file in the same directory, fsync,
// rename over the target, fsync the directory. Refuses if `path` is a symlink.
// `durable` = false skips the fsyncs: for files regenerated at every start or change (the
// advisory ready file, nats.conf) the rename alone gives atomicity, and an fsync can cost tens
// of milliseconds on a busy disk, on the path to ready.
enum class Durability { durable, atomic_only };
void write_atomic(const std::string& path, std::string_view content, mode_t mode,
                  Durability durability = Durability::durable);

// Require `path` to be a regular file (a symlink to one is fine) of at most `max_size` bytes.
// Opens with O_NONBLOCK so a FIFO cannot block, and judges the opened descriptor. Throws
// Error(`code`) "<path>: not a regular file (a directory)" / "<path> is too large (...)".
void check_regular_file(const std::string& path, Exit code = Exit::config, std::size_t max_size = kMaxInputFile);

// Read a whole regular file of at most `max_size` bytes (see check_regular_file). Throws
// Error(`code`) naming the file.
std::string read_file(const std::string& path, Exit code = Exit::config, std::size_t max_size = kMaxInputFile);

// Read a file that holds a secret into wiping memory; same rules as read_file.
SecretString read_secret_file(const std::string& path, Exit code = Exit::credentials,
                              std::size_t max_size = kMaxInputFile);

bool exists(const std::string& path);

// 64 random bits from getrandom(2) without waiting (a clock mix if it cannot), for temporary names
// and jitter seeds: not for keys. std::random_device checks the CPU's features each time it is
// made: 25 to 90 us on this VM, where getrandom costs 8.
std::uint64_t random_u64();

}  // namespace leaf::fs
