// `creds inspect`, `creds mint-user` and `dev-hub` as a user runs them: the real binary, real files.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "agent/core/creds.hpp"
#include "agent/sources/signer.hpp"
#include "support/harness.hpp"

using namespace harness;

namespace {
std::string seed_of(const std::string& creds_text) {
  const leaf::creds::Creds c = leaf::creds::parse(creds_text);
  return std::string(c.seed.begin(), c.seed.end());
}

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST_CASE("creds inspect: valid creds exit 0 and never print the seed") {
  TempDir d;
  REQUIRE(agent({"dev-hub", "--dir", d / "hub"}).code == 0);
  const std::string creds = d / "hub/leaf.creds";
  const std::string seed = seed_of(read_file(creds));
  const Result r = agent({"creds", "inspect", creds});
  CHECK(r.code == 0);
  CHECK(r.out.find("type:             user") != std::string::npos);
  CHECK(r.out.find("connection types: LEAFNODE") != std::string::npos);
  CHECK(r.out.find("valid:            yes") != std::string::npos);
  CHECK(r.out.find(seed) == std::string::npos);
  CHECK(r.err.find(seed) == std::string::npos);

  const Result j = agent({"creds", "inspect", "--json", "-"}, {}, read_file(creds));
  CHECK(j.code == 0);
  const auto doc = nlohmann::json::parse(j.out);
  CHECK(doc["valid"] == true);
  CHECK(doc["type"] == "user");
  CHECK(doc["allowed_connection_types"] == nlohmann::json::array({"LEAFNODE"}));
  CHECK(doc["account"] == read_file(d / "hub/lattice.pub").substr(0, 56));
  CHECK(j.out.find(seed) == std::string::npos);

  // Account and operator JWTs inspect too.
  CHECK(agent({"creds", "inspect", d / "hub/operator.jwt"}).code == 0);
  CHECK(agent({"creds", "inspect", d / "hub/lattice.jwt"}).out.find("type:             account") == 0);
}

TEST_CASE("creds inspect: invalid input exits 1 with the reason on one line, usage errors exit 2") {
  TempDir d;
  REQUIRE(agent({"dev-hub", "--dir", d / "hub"}).code == 0);
  std::string text = read_file(d / "hub/leaf.creds");
  const std::string seed = seed_of(text);
  // Tamper with the JWT signature (last characters of the JWT line).
  const size_t jwt_end = text.find("\n------END NATS USER JWT");
  text[jwt_end - 3] = text[jwt_end - 3] == 'A' ? 'B' : 'A';
  write_file(d / "bad.creds", text);
  const Result r = agent({"creds", "inspect", d / "bad.creds"});
  CHECK(r.code == 1);
  CHECK(r.err == "leaf-agent: invalid: signature does not verify\n");
  CHECK(r.out.find(seed) == std::string::npos);

  // Another user's seed with this JWT.
  const std::string other = read_file(d / "hub/client.creds");
  std::string swapped = read_file(d / "hub/leaf.creds");
  swapped.replace(swapped.find(seed), seed.size(), seed_of(other));
  write_file(d / "swapped.creds", swapped);
  const Result s = agent({"creds", "inspect", d / "swapped.creds"});
  CHECK(s.code == 1);
  CHECK(s.err.find("leaf-agent: invalid: seed does not belong to this JWT (seed key U") == 0);
  CHECK(lines(s.err) == 1);
  CHECK(s.err.find(seed_of(other)) == std::string::npos);

  CHECK(agent({"creds", "inspect", d / "missing.creds"}).code == 2);
  CHECK(agent({"creds", "inspect"}).code == 2);
  write_file(d / "garbage", "not a credential\n");
  const Result g = agent({"creds", "inspect", d / "garbage"});
  CHECK(g.code == 1);
  CHECK(g.err.find("no JWT found") != std::string::npos);
}

TEST_CASE("creds mint-user: leaf-only, ttl, 0600, and signing keys set issuer_account") {
  TempDir d;
  REQUIRE(agent({"dev-hub", "--dir", d / "hub"}).code == 0);
  const std::string account = read_file(d / "hub/lattice.pub").substr(0, 56);

  const Result m = agent({"creds", "mint-user", "--account-seed", d / "hub/lattice.nk", "--name", "edge-1",
                          "--ttl", "15m", "--leaf-only", "--out", d / "u.creds"});
  REQUIRE(m.code == 0);
  CHECK(file_mode(d / "u.creds") == 0600);
  const auto doc = nlohmann::json::parse(agent({"creds", "inspect", "--json", d / "u.creds"}).out);
  CHECK(doc["valid"] == true);
  CHECK(doc["name"] == "edge-1");
  CHECK(doc["allowed_connection_types"] == nlohmann::json::array({"LEAFNODE"}));
  CHECK(doc["expires_in_seconds"].get<int>() > 14 * 60);
  CHECK(doc["expires_in_seconds"].get<int>() <= 15 * 60);
  CHECK(doc["issuer"] == account);

  // Signing key + --account: issued by the signing key, for the account.
  const Result sk = agent({"creds", "mint-user", "--account-seed", d / "hub/lattice-signing.nk", "--account", account});
  REQUIRE(sk.code == 0);
  const auto sdoc = nlohmann::json::parse(agent({"creds", "inspect", "--json", "-"}, {}, sk.out).out);
  CHECK(sdoc["issuer_account"] == account);
  CHECK(sdoc["account"] == account);
  CHECK(sdoc["issuer"] != account);

  // Usage errors.
  CHECK(agent({"creds", "mint-user", "--account-seed", d / "hub/lattice.nk", "--ttl", "soon"}).code == 2);
  CHECK(agent({"creds", "mint-user", "--account-seed", d / "hub/lattice.nk", "--account", "Axyz"}).code == 2);
  const Result user_seed = agent({"creds", "mint-user", "--account-seed", d / "hub/operator.nk"});
  CHECK(user_seed.code == 4);
  CHECK(user_seed.err.find("operator seed") != std::string::npos);
}

TEST_CASE("dev-hub: private files, refuses to overwrite without --force") {
  TempDir d;
  REQUIRE(agent({"dev-hub", "--dir", d / "hub"}).code == 0);
  CHECK(file_mode(d / "hub") == 0700);
  for (const char* f : {"leaf.creds", "client.creds", "ca-key.pem", "server-key.pem", "lattice.nk", "operator.nk"}) {
    CAPTURE(f);
    CHECK(file_mode(d / "hub/" + f) == 0600);
  }
  const Result again = agent({"dev-hub", "--dir", d / "hub"});
  CHECK(again.code == 2);
  CHECK(again.err.find("--force") != std::string::npos);
  CHECK(agent({"dev-hub", "--dir", d / "hub", "--force"}).code == 0);
  const Result t = run({hub_nats(), "-t", "-c", d / "hub/hub.conf"});
  CHECK(t.code == 0);
}
