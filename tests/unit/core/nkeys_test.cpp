#include <doctest/doctest.h>

#include "agent/core/error.hpp"
#include "error_of.hpp"
#include "agent/core/nkeys.hpp"
#include "vectors.hpp"

using namespace leaf;
using nkeys::KeyPair;
using nkeys::KeyType;


TEST_CASE("nkeys: known seed derives the known public key and signature") {
  const KeyPair kp = KeyPair::from_seed(vectors::kUserSeed);
  CHECK(kp.type() == KeyType::user);
  CHECK(kp.public_key() == vectors::kUserPublic);
  CHECK(bool(kp.seed() == SecretString(vectors::kUserSeed)));
  const auto sig = kp.sign(as_bytes("nonce"));
  CHECK(base64url_encode(sig) == vectors::kNonceSignature);
  CHECK(nkeys::verify(vectors::kUserPublic, as_bytes("nonce"), sig));
  CHECK_FALSE(nkeys::verify(vectors::kUserPublic, as_bytes("nonce!"), sig));
}

TEST_CASE("nkeys: generated pairs of every type round-trip through seed and public key") {
  for (KeyType t : {KeyType::operator_, KeyType::account, KeyType::user, KeyType::server,
                    KeyType::cluster}) {
    const KeyPair kp = KeyPair::generate(t);
    const char want = "AUNOC"[t == KeyType::account ? 0 : t == KeyType::user ? 1
                              : t == KeyType::server ? 2 : t == KeyType::operator_ ? 3 : 4];
    CHECK(kp.public_key().size() == 56);
    CHECK(kp.public_key()[0] == want);
    const SecretString seed = kp.seed();
    CHECK(seed.size() == 58);
    CHECK(seed[0] == 'S');
    CHECK(seed[1] == want);
    const KeyPair again = KeyPair::from_seed(seed);
    CHECK(again.public_key() == kp.public_key());
    CHECK(nkeys::decode_public(kp.public_key()).type == t);
  }
}

TEST_CASE("nkeys: malformed keys are refused with a reason") {
  std::string seed = vectors::kUserSeed;
  std::string flipped = seed;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  CHECK(error_of([&] { KeyPair::from_seed(flipped); }) == "seed: bad checksum");
  CHECK(error_of([&] { KeyPair::from_seed(seed.substr(0, 40)); }).find("wrong length") != std::string::npos);
  CHECK(error_of([&] { KeyPair::from_seed(seed.substr(0, 57)); }).find("wrong length") != std::string::npos);
  std::string bad_char = seed;
  bad_char[30] = '1';  // not in the base32 alphabet
  CHECK(error_of([&] { KeyPair::from_seed(bad_char); }) == "seed: not valid base32");
  CHECK(error_of([&] { KeyPair::from_seed(vectors::kUserPublic); }).find("not a seed") == 0);

  std::string pub = vectors::kUserPublic;
  pub[20] = pub[20] == 'A' ? 'B' : 'A';
  CHECK(error_of([&] { nkeys::decode_public(pub); }) == "public nkey: bad checksum");
  CHECK(error_of([&] { nkeys::decode_public(seed); }).find("is a seed") != std::string::npos);
  CHECK(error_of([&] { nkeys::decode_public(std::string(vectors::kUserPublic).substr(0, 48)); })
            .find("wrong length") != std::string::npos);
  CHECK_FALSE(nkeys::is_public_key(vectors::kUserPublic, KeyType::account));
  CHECK(nkeys::is_public_key(vectors::kUserPublic, KeyType::user));
}

TEST_CASE("nkeys: an unknown prefix with a valid checksum is refused") {
  Bytes raw(33, 0);
  raw[0] = 5 << 3;  // not a nkeys role
  const std::uint16_t crc = crc16_xmodem(raw);
  raw.push_back(crc & 0xff);
  raw.push_back(crc >> 8);
  CHECK(error_of([&] { nkeys::decode_public(base32_encode(raw)); }) == "public nkey: unknown prefix");
}

TEST_CASE("nkeys: moving a key pair keeps one usable copy") {
  KeyPair a = KeyPair::generate(KeyType::account);
  const std::string pub = a.public_key();
  KeyPair b = std::move(a);
  CHECK(b.public_key() == pub);
  const auto sig = b.sign(as_bytes("x"));
  CHECK(nkeys::verify(pub, as_bytes("x"), sig));
}
