#include "agent/store/credential_store.hpp"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"
#include "agent/sources/sources.hpp"

namespace leaf::store {

std::string sha256_hex(std::string_view text) {
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  char hex[2 * sizeof h + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

Candidate take(const config::Config& c, const config::Environment& env, std::int64_t now,
               const std::function<bool()>& cancelled, std::chrono::steady_clock::time_point deadline,
               const creds::Checked* in_use) {
  Candidate out;
  out.checked_at = now;
  sources::Fetched f = sources::fetch(c, env, now, cancelled, deadline);
  out.origin = f.origin;
  out.creds = sources::check_for_leaf(f, c, now);
  if (in_use && out.creds.account != in_use->account) {
    throw creds_error("credentials are for account " + out.creds.account + ", but the credentials in use are for account " +
                      in_use->account + " (user " + out.creds.subject + ")");
  }
  const creds::Creds parsed = creds::parse(f.creds);
  out.text = creds::format(parsed.jwt, std::string_view(parsed.seed.data(), parsed.seed.size()));
  out.sha256 = sha256_hex(std::string_view(out.text.data(), out.text.size()));
  return out;
}

bool same_credentials(const Candidate& next, const creds::Checked& in_use) {
  return next.creds.token.text == in_use.token.text;
}

void CredentialStore::commit(const Candidate& c) {
  // Atomic, not fsynced: every file in the state_dir is written again at each start.
  fs::write_atomic(path_, std::string_view(c.text.data(), c.text.size()), 0600, fs::Durability::atomic_only);
  sha256_ = c.sha256;
  in_use_ = c.creds;
  origin_ = c.origin;
}

void CredentialStore::verify() const {
  if (sha256_.empty()) return;
  struct stat st {};
  const bool regular = ::lstat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid();
  const SecretString now = regular ? fs::read_secret_file(path_) : SecretString();
  if (!regular || sha256_hex(std::string_view(now.data(), now.size())) != sha256_) {
    throw creds_error(path_ + " was changed or replaced by someone else; refusing to start nats-server on it "
                      "(give the agent a state_dir no other user or process writes to)");
  }
}

void CredentialStore::stage(const Candidate& c) {
  fs::write_atomic(other_, std::string_view(c.text.data(), c.text.size()), 0600, fs::Durability::atomic_only);
  previous_ = path_;
  std::swap(path_, other_);
  before_in_use_ = std::exchange(in_use_, std::nullopt);
  before_origin_ = origin_;
  before_sha256_ = sha256_;
  sha256_ = c.sha256;
  in_use_ = c.creds;
  origin_ = c.origin;
}

void CredentialStore::abandon_stage() {
  if (previous_.empty()) return;
  ::unlink(path_.c_str());
  std::swap(path_, other_);
  previous_.clear();
  in_use_ = std::move(before_in_use_);
  origin_ = before_origin_;
  sha256_ = before_sha256_;
}

void CredentialStore::forget_previous() {
  if (previous_.empty()) return;
  ::unlink(previous_.c_str());
  previous_.clear();
}

void CredentialStore::unstage(const Candidate& c, bool keep_staged) {
  if (previous_.empty()) return;
  const std::string staged = path_;
  fs::write_atomic(previous_, std::string_view(c.text.data(), c.text.size()), 0600, fs::Durability::atomic_only);
  std::swap(path_, other_);  // back to the previous slot, with the new credentials
  previous_.clear();
  if (!keep_staged) ::unlink(staged.c_str());
}

void CredentialStore::remove_other() const {
  if (previous_.empty() && !other_.empty()) ::unlink(other_.c_str());
}

void CredentialStore::remove() const {
  for (const auto* p : {&path_, &other_}) {
    if (!p->empty()) ::unlink(p->c_str());
  }
}

}  // namespace leaf::store
