// The credential store with real files and credentials minted for a real dev hub's account: the
// start and every refresh take the same path (take -> commit -> verify).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include "agent/config/config.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/sources/signer.hpp"
#include "agent/store/credential_store.hpp"
#include "support/harness.hpp"

using namespace harness;

namespace {

leaf::config::Config file_source(const Hub& hub, const std::string& file) {
  const std::string toml = "[upstream]\nurls = [\"" + hub.leaf_url() + "\"]\naccount = \"" + hub.lattice_account() +
                           "\"\n[credentials]\nsource = \"file\"\nfile = \"" + file + "\"\n";
  return leaf::config::load(toml, "agent.toml", {}, {});
}

leaf::store::Candidate take(const leaf::config::Config& c, const leaf::store::CredentialStore* in_use = nullptr) {
  const auto* current = in_use && in_use->in_use() ? &*in_use->in_use() : nullptr;
  return leaf::store::take(c, {}, leaf::unix_now(), [] { return false; }, std::chrono::steady_clock::now() + 10s, current);
}
}  // namespace

// Issue #20, defect 1: the refresh wrote upstream.creds on the worker and the loop updated the
// hash only when the completion ran; a nats-server restart in between found "the file replaced by
// someone else" and the agent exited 6. Now the worker only takes; the loop commits.
TEST_CASE("store: a refresh taken but not yet committed leaves the file and its hash as they were") {
  Hub hub;
  TempDir d;
  const std::string source = d / "leaf.creds";
  std::string first, second;
  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600, &first));
  const auto c = file_source(hub, source);
  leaf::store::CredentialStore store(d / "upstream.creds", d / "upstream.alt.creds");
  store.commit(take(c));
  CHECK(store.in_use()->subject == first);
  CHECK(file_mode(store.path()) == 0600);
  const std::string written = read_file(store.path());

  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600, &second));
  const auto next = take(c, &store);  // the worker's part of a refresh
  CHECK(next.creds.subject == second);
  CHECK(read_file(store.path()) == written);  // nothing written yet
  CHECK_NOTHROW(store.verify());              // a restart now starts on the credentials in use

  store.commit(next);                          // the loop's part
  CHECK(store.in_use()->subject == second);
  CHECK(leaf::creds::parse(read_file(store.path())).jwt == leaf::creds::parse(read_file(source)).jwt);
  CHECK_NOTHROW(store.verify());
}

TEST_CASE("store: the same account only, and a file changed behind the store's back is refused before a restart") {
  Hub hub;
  TempDir d;
  const std::string source = d / "leaf.creds";
  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600));
  const auto c = file_source(hub, source);
  leaf::store::CredentialStore store(d / "upstream.creds", d / "upstream.alt.creds");
  store.commit(take(c));
  // A refresh with another account's user is refused in one line; nothing changes.
  write_file(source, mint_user_creds(hub, "hub/sys.nk", 3600));
  try {
    take(c, &store);
    FAIL("another account's credentials were taken");
  } catch (const leaf::Error& e) {
    CHECK(std::string(e.what()).find("credentials are for account") == 0);
  }
  // Someone else writes the file: verify refuses, naming the fix.
  write_file(store.path(), read_file(source));
  try {
    store.verify();
    FAIL("a replaced file verified");
  } catch (const leaf::Error& e) {
    CHECK(std::string(e.what()).find("was changed or replaced by someone else") != std::string::npos);
  }
  store.remove();
  struct stat st {};
  CHECK(::stat(store.path().c_str(), &st) != 0);
}

TEST_CASE("store: staging writes the other slot and makes it the file in use, then forget or unstage settles it") {
  Hub hub;
  TempDir d;
  const std::string source = d / "leaf.creds";
  std::string first, second, third;
  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600, &first));
  const auto c = file_source(hub, source);
  leaf::store::CredentialStore store(d / "upstream.creds", d / "upstream.alt.creds");
  store.commit(take(c));
  const std::string first_text = read_file(d / "upstream.creds");

  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600, &second));
  const auto next = take(c, &store);
  store.stage(next);
  CHECK(store.path() == d / "upstream.alt.creds");
  CHECK(store.previous_path() == d / "upstream.creds");
  CHECK(read_file(d / "upstream.creds") == first_text);  // the running server may still read it
  CHECK(file_mode(d / "upstream.alt.creds") == 0600);
  CHECK(store.in_use()->subject == second);
  CHECK_NOTHROW(store.verify());  // a restart now reads the staged file
  store.forget_previous();        // the move is confirmed
  CHECK(file_mode(d / "upstream.creds") == -1);
  CHECK(store.previous_path().empty());

  // The next rotation goes back to the first slot; this time the move fails.
  write_file(source, mint_user_creds(hub, "hub/lattice.nk", 3600, &third));
  const auto after = take(c, &store);
  store.stage(after);
  CHECK(store.path() == d / "upstream.creds");
  store.unstage(after, /*keep_staged=*/false);
  CHECK(store.path() == d / "upstream.alt.creds");  // the file the running server reads...
  CHECK(leaf::creds::parse(read_file(store.path())).jwt == leaf::creds::parse(read_file(source)).jwt);  // ...now new
  CHECK(file_mode(d / "upstream.creds") == -1);
  CHECK_NOTHROW(store.verify());
  store.remove();
  CHECK(file_mode(d / "upstream.alt.creds") == -1);
}
