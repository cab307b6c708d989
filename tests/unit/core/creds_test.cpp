#include <doctest/doctest.h>

#include "agent/core/creds.hpp"
#include "agent/core/error.hpp"
#include "error_of.hpp"
#include "vectors.hpp"

using namespace leaf;
using nkeys::KeyPair;
using nkeys::KeyType;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

struct Minted {
  KeyPair account = KeyPair::generate(KeyType::account);
  KeyPair user = KeyPair::generate(KeyType::user);
  std::string jwt;
  explicit Minted(std::optional<std::int64_t> exp = std::nullopt) {
    jwt::UserSpec s{"leaf", user.public_key(), exp, "", {"LEAFNODE"}, {}, {}};
    jwt = jwt::sign(jwt::user_claims(s), account, kNow);
  }
  SecretString text() const { return creds::format(jwt, user.seed()); }
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}
}  // namespace

TEST_CASE("creds: format writes the exact layout nats-server 2.9.10 reads") {
  const SecretString text = creds::format("eyJ.a.b", "SUXXXX");
  const std::string want =
      "-----BEGIN NATS USER JWT-----\neyJ.a.b\n------END NATS USER JWT------\n\n"
      "************************* IMPORTANT *************************\n"
      "NKEY Seed printed below can be used to sign and prove identity.\n"
      "NKEYs are sensitive and should be treated as secrets.\n\n"
      "-----BEGIN USER NKEY SEED-----\nSUXXXX\n------END USER NKEY SEED------\n\n"
      "*************************************************************\n";
  CHECK(std::string(text.begin(), text.end()) == want);
}

TEST_CASE("creds: parse round-trips, tolerates CRLF and a missing trailing newline") {
  const Minted m;
  const SecretString text = m.text();
  const std::string lf(text.begin(), text.end());
  for (std::string variant : {lf, replace_all(lf, "\n", "\r\n"), lf.substr(0, lf.size() - 1),
                              replace_all(lf, "\n", "\r\n").substr(0, lf.size() - 2)}) {
    const creds::Creds c = creds::parse(variant);
    CHECK(c.jwt == m.jwt);
    CHECK(bool(c.seed == m.user.seed()));
    CHECK(creds::validate(c, kNow).subject == m.user.public_key());
  }
}

TEST_CASE("creds: a bare JWT parses with no seed, garbage is refused") {
  const Minted m;
  const creds::Creds c = creds::parse("  " + m.jwt + "\n");
  CHECK(c.jwt == m.jwt);
  CHECK(c.seed.empty());
  CHECK(error_of([&] { creds::validate(c, kNow); }).find("no seed found") == 0);
  CHECK(error_of([] { creds::parse("hello world"); }).find("no JWT found") == 0);
  CHECK(error_of([] { creds::parse(""); }).find("no JWT found") == 0);
}

TEST_CASE("creds: validate names each problem") {
  const Minted m(kNow + 600);
  const Minted other;
  SUBCASE("valid") {
    const creds::Checked ok = creds::validate(creds::parse(m.text()), kNow);
    CHECK(ok.subject == m.user.public_key());
    CHECK(ok.account == m.account.public_key());
  }
  SUBCASE("seed of another user") {
    const creds::Creds c = creds::parse(creds::format(m.jwt, other.user.seed()));
    const std::string e = error_of([&] { creds::validate(c, kNow); });
    CHECK(e == "seed does not belong to this JWT (seed key " + other.user.public_key() +
                   ", JWT subject " + m.user.public_key() + ")");
  }
  SUBCASE("expired") {
    CHECK(error_of([&] { creds::validate(creds::parse(m.text()), kNow + 780); }) == "expired 3m ago");
  }
  SUBCASE("tampered signature") {
    std::string jwt = m.jwt;
    jwt[jwt.size() - 5] = jwt[jwt.size() - 5] == 'A' ? 'B' : 'A';
    const creds::Creds c = creds::parse(creds::format(jwt, m.user.seed()));
    CHECK(error_of([&] { creds::validate(c, kNow); }) == "signature does not verify");
  }
  SUBCASE("account JWT in a creds file") {
    const KeyPair op = KeyPair::generate(KeyType::operator_);
    jwt::AccountSpec a{"A", m.account.public_key(), {}, false};
    const std::string acct_jwt = jwt::sign(jwt::account_claims(a), op, kNow);
    const creds::Creds c = creds::parse(creds::format(acct_jwt, m.user.seed()));
    CHECK(error_of([&] { creds::validate(c, kNow); }) ==
          "JWT is an account JWT; leaf credentials need a user JWT");
  }
  SUBCASE("account seed with a user JWT") {
    const creds::Creds c = creds::parse(creds::format(m.jwt, m.account.seed()));
    CHECK(error_of([&] { creds::validate(c, kNow); }).find("seed is an account seed") == 0);
  }
  SUBCASE("truncated seed") {
    const SecretString seed = m.user.seed();
    const creds::Creds c = creds::parse(creds::format(m.jwt, std::string_view(seed).substr(0, 50)));
    CHECK(error_of([&] { creds::validate(c, kNow); }).find("seed: wrong length") == 0);
  }
}

TEST_CASE("creds: parse refuses what nats-server would misread, and keeps the harmless variants") {
  const Minted m;
  const SecretString good = m.text();
  const std::string g(good.begin(), good.end());
  const SecretString seed = m.user.seed();
  const std::string want_seed(seed.begin(), seed.end());
  // Compared in parentheses: doctest then prints no values (a seed never reaches test output).
  auto seed_ok = [&](const creds::Creds& c) { return std::string(c.seed.begin(), c.seed.end()) == want_seed; };
  // Positive: a BOM, CRLF, trailing whitespace, a blank line inside a block, the seed block first.
  std::string crlf;
  for (char ch : g) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  std::string spaced;
  for (size_t p = 0, nl; p < g.size(); p = nl + 1) {
    nl = g.find('\n', p);
    spaced += g.substr(p, nl - p) + "  \t\n";
  }
  const std::string jwt_block = g.substr(0, g.find("\n\n") + 1);
  const std::string seed_block = g.substr(g.find("-----BEGIN USER NKEY SEED"));
  const std::string blank_inside = "-----BEGIN NATS USER JWT-----\n\n" + m.jwt + "\n\n------END NATS USER JWT------\n" + seed_block;
  for (const std::string& text : {"\xEF\xBB\xBF" + g, crlf, spaced, blank_inside, seed_block + jwt_block}) {
    const creds::Creds c = creds::parse(text);
    CHECK(c.jwt == m.jwt);
    CHECK(seed_ok(c));
  }
  // Negative: two JWT blocks, two seed blocks, two lines in a block, no END, junk in the JWT.
  CHECK(error_of([&] { creds::parse(jwt_block + g); }) == "two JWT blocks; a .creds file holds one JWT and one seed");
  CHECK(error_of([&] { creds::parse(g + seed_block); }) == "two seed blocks; a .creds file holds one JWT and one seed");
  CHECK(error_of([&] {
          creds::parse("-----BEGIN NATS USER JWT-----\n" + m.jwt + "\nmore\n------END NATS USER JWT------\n" + seed_block);
        }) == "the JWT block holds more than one line; want one token");
  CHECK(error_of([&] { creds::parse("-----BEGIN NATS USER JWT-----\n" + m.jwt + "\n"); }) == "the JWT block has no END line");
  CHECK(error_of([&] { creds::parse("-----BEGIN NATS USER JWT-----\n------END NATS USER JWT------\n"); }) ==
        "the JWT block is empty");
  CHECK(error_of([&] {
          creds::parse("-----BEGIN NATS USER JWT-----\n" + m.jwt + "\"}\n------END NATS USER JWT------\n" + seed_block);
        }).find("not base64url") != std::string::npos);
  // The messages never carry the seed.
  const std::string e = error_of([&] { creds::parse(g + seed_block); });
  CHECK((e.find(want_seed) == std::string::npos));
}
