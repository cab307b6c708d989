#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "error_of.hpp"
#include "agent/core/jwt.hpp"
#include "vectors.hpp"

using namespace leaf;
using nkeys::KeyPair;
using nkeys::KeyType;

namespace {

// Replace one character inside the claims part of a JWT, keeping it valid base64url.
std::string tamper_claims(const std::string& jwt) {
  const size_t d1 = jwt.find('.');
  auto claims = base64url_decode(jwt.substr(d1 + 1, jwt.find('.', d1 + 1) - d1 - 1));
  std::string text(claims->begin(), claims->end());
  const size_t at = text.find("\"name\":\"") + 8;
  text[at] = text[at] == 'X' ? 'Y' : 'X';
  return jwt.substr(0, d1 + 1) + base64url_encode(as_bytes(text)) + jwt.substr(jwt.find('.', d1 + 1));
}

constexpr std::int64_t kNow = 1'800'000'000;
}  // namespace

TEST_CASE("jwt: the wadmdemo operator JWT decodes and verifies") {
  const jwt::Token t = jwt::decode(vectors::kOperatorJwt);
  CHECK(t.type() == "operator");
  CHECK(t.name() == "wadmdemo");
  CHECK(t.issuer() == vectors::kOperatorPublic);
  CHECK(t.subject() == vectors::kOperatorPublic);
  CHECK(t.issued_at() == 1684413495);
  CHECK(jwt::signature_verifies(t));
  CHECK(jwt::issuer_problem(t) == "");
  CHECK_NOTHROW(jwt::validate(t, kNow));
  // Our jti computation reproduces nats-io's.
  CHECK(jwt::compute_jti(t.claims) == vectors::kOperatorJti);
}

TEST_CASE("jwt: the WADM account JWT decodes and verifies against the operator") {
  const jwt::Token t = jwt::decode(vectors::kAccountJwt);
  CHECK(t.type() == "account");
  CHECK(t.name() == "WADM");
  CHECK(t.subject() == vectors::kAccountPublic);
  CHECK(t.issuer() == vectors::kOperatorPublic);
  CHECK(jwt::signature_verifies(t));
  CHECK_NOTHROW(jwt::validate(t, kNow));
  CHECK(jwt::compute_jti(t.claims) == vectors::kAccountJti);
}

TEST_CASE("jwt: changing one character of the claims breaks the signature") {
  for (const char* text : {vectors::kOperatorJwt, vectors::kAccountJwt}) {
    const jwt::Token t = jwt::decode(tamper_claims(text));
    CHECK_FALSE(jwt::signature_verifies(t));
    CHECK(error_of([&] { jwt::validate(t, kNow); }) == "signature does not verify");
  }
}

TEST_CASE("jwt: malformed tokens are refused with a reason") {
  CHECK(error_of([] { jwt::decode("abc"); }) == "JWT: want three dot-separated parts");
  CHECK(error_of([] { jwt::decode("a.b.c.d"); }) == "JWT: want three dot-separated parts");
  CHECK(error_of([] { jwt::decode("!!.e30.AA"); }) == "JWT: header is not valid base64url");
  const std::string hs256 = base64url_encode(as_bytes(R"({"typ":"JWT","alg":"HS256"})"));
  const std::string claims = base64url_encode(as_bytes(R"({"nats":{"type":"user"}})"));
  CHECK(error_of([&] { jwt::decode(hs256 + "." + claims + ".AA"); }) ==
        "JWT: unsupported algorithm \"HS256\" (want ed25519-nkey)");
  const std::string ok_header = base64url_encode(as_bytes(R"({"typ":"JWT","alg":"ed25519"})"));
  const std::string plain = base64url_encode(as_bytes(R"({"sub":"x"})"));
  CHECK(error_of([&] { jwt::decode(ok_header + "." + plain + ".AA"); }).find("no nats.type") != std::string::npos);
}

TEST_CASE("jwt: minted user JWT carries what nats-io writes and verifies") {
  const KeyPair account = KeyPair::generate(KeyType::account);
  const KeyPair user = KeyPair::generate(KeyType::user);
  jwt::UserSpec spec;
  spec.name = "leaf";
  spec.subject = user.public_key();
  spec.expires = kNow + 3600;
  spec.allowed_connection_types = {"LEAFNODE"};
  spec.pub.allow = {"wasmbus.>"};
  spec.sub.deny = {"secret.>"};
  const std::string text = jwt::sign(jwt::user_claims(spec), account, kNow);
  const jwt::Token t = jwt::decode(text);
  CHECK(t.header == jwt::Json::parse(R"({"typ":"JWT","alg":"ed25519-nkey"})"));
  CHECK(t.type() == "user");
  CHECK(t.claims["nats"]["version"] == 2);
  CHECK(t.issuer() == account.public_key());
  CHECK(t.subject() == user.public_key());
  CHECK(t.issued_at() == kNow);
  CHECK(t.expires() == kNow + 3600);
  CHECK(t.allowed_connection_types() == std::vector<std::string>{"LEAFNODE"});
  CHECK(t.claims["nats"]["pub"]["allow"][0] == "wasmbus.>");
  CHECK(t.claims["nats"]["sub"]["deny"][0] == "secret.>");
  CHECK(t.claims["jti"] == jwt::compute_jti(t.claims));
  CHECK(t.account() == account.public_key());
  CHECK_NOTHROW(jwt::validate(t, kNow));
  // Field order as nats-io's encoder writes it.
  auto raw = base64url_decode(text.substr(text.find('.') + 1, text.rfind('.') - text.find('.') - 1));
  const std::string raw_text(raw->begin(), raw->end());
  CHECK(raw_text.find(R"({"exp":)") == 0);
  CHECK(raw_text.find(R"("jti")") < raw_text.find(R"("iat")"));
  CHECK(raw_text.find(R"("sub")") < raw_text.find(R"("nats")"));
}

TEST_CASE("jwt: issuing rules by type") {
  const KeyPair op = KeyPair::generate(KeyType::operator_);
  const KeyPair acct = KeyPair::generate(KeyType::account);
  const KeyPair user = KeyPair::generate(KeyType::user);

  jwt::UserSpec u{"u", user.public_key(), std::nullopt, "", {}, {}, {}};
  // A user JWT signed by an operator key: wrong issuer type.
  const jwt::Token by_op = jwt::decode(jwt::sign(jwt::user_claims(u), op, kNow));
  CHECK(jwt::issuer_problem(by_op).find("a user JWT must be issued by an account key (A...)") == 0);

  // Signed by an account signing key: issuer_account names the account.
  const KeyPair signing = KeyPair::generate(KeyType::account);
  u.issuer_account = acct.public_key();
  const jwt::Token by_sk = jwt::decode(jwt::sign(jwt::user_claims(u), signing, kNow));
  CHECK(jwt::issuer_problem(by_sk) == "");
  CHECK(by_sk.account() == acct.public_key());
  CHECK(by_sk.issuer() == signing.public_key());

  u.issuer_account = user.public_key();
  const jwt::Token bad_ia = jwt::decode(jwt::sign(jwt::user_claims(u), acct, kNow));
  CHECK(jwt::issuer_problem(bad_ia) == "issuer_account is not an account key (A...)");

  // Account JWT signed by an account: refused. By the operator: fine.
  jwt::AccountSpec a{"A", acct.public_key(), {}, true};
  CHECK(jwt::issuer_problem(jwt::decode(jwt::sign(jwt::account_claims(a), acct, kNow))) ==
        "an account JWT must be issued by an operator key (O...)");
  const jwt::Token acct_jwt = jwt::decode(jwt::sign(jwt::account_claims(a), op, kNow));
  CHECK_NOTHROW(jwt::validate(acct_jwt, kNow));
  CHECK(acct_jwt.claims["nats"]["limits"]["streams"] == -1);

  // Operator JWT signed by another operator key that it does not list.
  const KeyPair other = KeyPair::generate(KeyType::operator_);
  const jwt::OperatorSpec o{"op", acct.public_key()};
  CHECK_NOTHROW(jwt::validate(jwt::decode(jwt::sign(jwt::operator_claims(o, op.public_key()), op, kNow)), kNow));
  CHECK(jwt::issuer_problem(jwt::decode(jwt::sign(jwt::operator_claims(o, op.public_key()), other, kNow)))
            .find("not self-signed") != std::string::npos);
}

TEST_CASE("jwt: expiry and not-before against a settable clock") {
  const KeyPair acct = KeyPair::generate(KeyType::account);
  const KeyPair user = KeyPair::generate(KeyType::user);
  jwt::UserSpec u{"u", user.public_key(), kNow + 60, "", {}, {}, {}};
  const jwt::Token t = jwt::decode(jwt::sign(jwt::user_claims(u), acct, kNow));
  CHECK(jwt::time_problem(t, kNow) == "");
  CHECK(jwt::time_problem(t, kNow + 59) == "");
  CHECK(jwt::time_problem(t, kNow + 60) == "expired 0s ago");
  CHECK(jwt::time_problem(t, kNow + 60 + 180) == "expired 3m ago");
  CHECK(error_of([&] { jwt::validate(t, kNow + 3600 * 5); }) == "expired 4h59m ago");

  jwt::OrderedJson claims = jwt::user_claims(u);
  claims.erase("exp");
  claims["nbf"] = kNow + 300;
  const jwt::Token later = jwt::decode(jwt::sign(claims, acct, kNow));
  CHECK(jwt::time_problem(later, kNow) == "not valid for another 5m");
  CHECK(jwt::time_problem(later, kNow + 300) == "");
}
