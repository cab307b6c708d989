// Small file-system effects with the safety rules the agent needs: secrets 0600 in 0700
// directories, atomic replacement (temp file, fsync, rename), never following a symlink at the
// target. Throws leaf::Error(Exit::config or internal) with the path in the message.
#pragma once

#include <string>
#include <string_view>
#include <sys/types.h>

#include "agent/core/error.hpp"
#include "agent/core/secret.hpp"

namespace leaf::fs {

// Create `dir` (and parents) if missing, then require it to be a real directory (not a symlink)
// and chmod it to `mode`.
void ensure_private_dir(const std::string& dir, mode_t mode = 0700);

// Write `content` to `path` atomically with `mode`: a temp file in the same directory, fsync,
// rename over the target, fsync the directory. Refuses if `path` is a symlink.
void write_atomic(const std::string& path, std::string_view content, mode_t mode);

// Read a whole file. Throws Error(Exit::config) naming the file when it cannot be read.
std::string read_file(const std::string& path);

// Read a file that holds a secret into wiping memory. Throws Error(`code`) naming the file.
SecretString read_secret_file(const std::string& path, Exit code = Exit::credentials);

bool exists(const std::string& path);

}  // namespace leaf::fs
