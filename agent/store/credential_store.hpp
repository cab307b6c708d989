// One credential's path from its source to the file nats-server reads, the same at the start and
// at every refresh:
//   fetch (sources/) -> check for a leaf (sources::check_for_leaf) -> normalise (formatted from
//   the parsed JWT and seed, never the bytes as fetched)      = take(): any thread, no file touched
//   -> atomic write 0600 -> SHA-256                            = CredentialStore::commit(): the loop
//   -> before each nats-server (re)start: still ours?          = CredentialStore::verify()
// Only the loop thread writes the file and its hash, so a nats-server restart never compares a
// file a refresh wrote with the hash of the one before (issue #20, defect 1).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/config/config.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/secret.hpp"

namespace leaf::store {

// Credentials fetched and checked, ready to be committed. Holds the seed (in wiping memory).
struct Candidate {
  creds::Checked creds;
  std::string origin;           // "file /x", "signer", ... for logs
  std::int64_t checked_at = 0;  // unix seconds
  SecretString text;            // the normalised .creds text
  std::string sha256;           // of `text`, hex
};

// Fetches from the configured source and checks the credentials as at the start; with `in_use`,
// also "the same account as the credentials in use". Blocking (bounded by `deadline`, gives up
// when `cancelled()` turns true); touches no file. Throws Error with a one-line reason.
Candidate take(const config::Config& c, const config::Environment& env, std::int64_t now,
               const std::function<bool()>& cancelled, std::chrono::steady_clock::time_point deadline,
               const creds::Checked* in_use = nullptr);

// True when `next` is the very JWT of `in_use` (the source still has the credentials in use).
bool same_credentials(const Candidate& next, const creds::Checked& in_use);

std::string sha256_hex(std::string_view text);

// upstream.creds in the state_dir: written only here, on the loop thread (or the bootstrap's
// thread before the loop knows the store). Two slots: the file nats-server's config names, and
// the other one, where a rotation by config reload stages the next credentials (a remote whose
// credentials path changes is a new remote to nats-server 2.14+: it drops the old connection and
// dials the new one at once).
class CredentialStore {
 public:
  CredentialStore() = default;
  // `path` and its other slot, `alternate` (upstream.creds, upstream.alt.creds).
  CredentialStore(std::string path, std::string alternate) : path_(std::move(path)), other_(std::move(alternate)) {}

  // Writes the candidate atomically (0600) over the file in use and makes it the credentials in use.
  void commit(const Candidate& c);
  // Writes the candidate into the other slot and makes that the file in use (the config must now
  // name path()); the previous file stays until forget_previous() (the running server may still
  // read it) or unstage().
  void stage(const Candidate& c);
  // The move to the staged file is confirmed: the previous slot's file goes.
  void forget_previous();
  // stage() undone before anything read the staged file (its config could not be written): the
  // store is as before it, the staged file gone. Writes nothing.
  void abandon_stage();
  // The move did not happen: the candidate goes into the previous slot too, which becomes the
  // file in use again. `keep_staged`: the other file stays (the server may have taken its path).
  void unstage(const Candidate& c, bool keep_staged);
  // Before nats-server is (re)started: the file must still be what commit() wrote (a regular
  // file of ours, same SHA-256); anything else is Error(Exit::credentials). Nothing committed: ok.
  void verify() const;
  // The slot not in use goes (nothing reads it once nats-server runs a config naming path(): after
  // a restart, at the agent's exit). Nothing while a move is staged.
  void remove_other() const;
  // A start that failed leaves no credentials behind (either slot).
  void remove() const;

  const std::string& path() const { return path_; }           // the file in use
  const std::string& previous_path() const { return previous_; }  // while staged: the one before
  const std::string& other_path() const { return other_; }         // where stage() writes
  const std::optional<creds::Checked>& in_use() const { return in_use_; }
  const std::string& origin() const { return origin_; }
  const std::string& sha256() const { return sha256_; }

 private:
  std::string path_, other_, previous_;
  std::optional<creds::Checked> in_use_;
  std::string origin_;
  std::string sha256_;  // of the file as written; empty: nothing written yet
  // What stage() replaced, for abandon_stage().
  std::optional<creds::Checked> before_in_use_;
  std::string before_origin_, before_sha256_;
};

}  // namespace leaf::store
