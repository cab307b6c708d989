// leaf::pki: issued certificates verify against their CA, carry the right SANs/usages, and the
// preflight checks reject mismatched or garbage files.
#include "agent/preflight/pki.hpp"

#include "agent/core/error.hpp"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>

namespace {

template <auto Free>
struct Deleter {
  template <class T>
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;

X509Ptr parse_cert(const std::string& pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  REQUIRE(x);
  return x;
}

KeyPtr parse_key(const std::string& pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr k(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  REQUIRE(k);
  return k;
}

// Verifies `leaf` against `ca` alone for TLS `purpose`; returns the X509_V_ERR code (0 = ok).
int verify(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>> ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca) == 1);
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
  REQUIRE(X509_STORE_CTX_set_purpose(ctx.get(), purpose) == 1);
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

// A mkdtemp directory removed with its contents when the test ends.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pki_test.XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = (path / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const leaf::Error& e) {
    CHECK(e.code() == leaf::Exit::config);
    return e.what();
  }
  FAIL("no leaf::Error thrown");
  return {};
}

}  // namespace

TEST_CASE("pki: CA is a self-signed P-256 CA with a PKCS#8 key") {
  leaf::pki::Pem ca = leaf::pki::make_ca("test CA", 30);
  CHECK(ca.key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
  X509Ptr x = parse_cert(ca.cert_pem);
  KeyPtr k = parse_key(ca.key_pem);
  CHECK(X509_check_private_key(x.get(), k.get()) == 1);
  CHECK(X509_check_ca(x.get()) >= 1);
  CHECK(X509_check_issued(x.get(), x.get()) == X509_V_OK);
  CHECK(EVP_PKEY_is_a(k.get(), "EC") == 1);
  CHECK(X509_get_signature_nid(x.get()) == NID_ecdsa_with_SHA256);
  CHECK(X509_get_version(x.get()) == X509_VERSION_3);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(x.get())) < 0);
  CHECK(X509_cmp_current_time(X509_get0_notAfter(x.get())) > 0);
  CHECK(X509_get0_subject_key_id(x.get()) != nullptr);
}

TEST_CASE("pki: leaf certificate verifies against its CA, with SANs and matching key") {
  leaf::pki::Pem ca = leaf::pki::make_ca("test CA", 30);
  leaf::pki::Pem server = leaf::pki::make_cert(ca, "server", {"localhost", "127.0.0.1", "::1"}, true, false, 7);
  X509Ptr ca_x = parse_cert(ca.cert_pem);
  X509Ptr x = parse_cert(server.cert_pem);

  CHECK(verify(ca_x.get(), x.get(), X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  // serverAuth only: not usable as a client certificate.
  CHECK(verify(ca_x.get(), x.get(), X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  CHECK(X509_check_ca(x.get()) == 0);

  KeyPtr k = parse_key(server.key_pem);
  CHECK(X509_check_private_key(x.get(), k.get()) == 1);
  KeyPtr ca_k = parse_key(ca.key_pem);
  CHECK(X509_check_private_key(x.get(), ca_k.get()) != 1);

  // X509_check_host only matches DNS SANs, X509_check_ip_asc only IP SANs.
  CHECK(X509_check_host(x.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_ip_asc(x.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(x.get(), "::1", 0) == 1);
  CHECK(X509_check_host(x.get(), "127.0.0.1", 0, 0, nullptr) != 1);
  CHECK(X509_check_host(x.get(), "server", 0, 0, nullptr) != 1);
}

TEST_CASE("pki: client-only and dual-use certificates") {
  leaf::pki::Pem ca = leaf::pki::make_ca("test CA", 30);
  X509Ptr ca_x = parse_cert(ca.cert_pem);
  X509Ptr client = parse_cert(leaf::pki::make_cert(ca, "client", {}, false, true, 7).cert_pem);
  CHECK(verify(ca_x.get(), client.get(), X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify(ca_x.get(), client.get(), X509_PURPOSE_SSL_SERVER) != X509_V_OK);
  X509Ptr both = parse_cert(leaf::pki::make_cert(ca, "both", {"a.example"}, true, true, 7).cert_pem);
  CHECK(verify(ca_x.get(), both.get(), X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify(ca_x.get(), both.get(), X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  // A different CA does not vouch for it.
  X509Ptr other_ca = parse_cert(leaf::pki::make_ca("other CA", 30).cert_pem);
  CHECK(verify(other_ca.get(), both.get(), X509_PURPOSE_SSL_SERVER) != X509_V_OK);
}

TEST_CASE("pki: bad input to make_* is a config error") {
  leaf::pki::Pem ca = leaf::pki::make_ca("test CA", 30);
  CHECK_THROWS_AS(leaf::pki::make_ca("", 30), leaf::Error);
  CHECK_THROWS_AS(leaf::pki::make_ca("x", 0), leaf::Error);
  CHECK_THROWS_AS(leaf::pki::make_cert(ca, "x", {"bad name"}, true, false, 1), leaf::Error);
  CHECK_THROWS_AS(leaf::pki::make_cert(ca, "x", {}, false, false, 1), leaf::Error);
  CHECK_THROWS_AS(leaf::pki::make_cert({"garbage", ca.key_pem}, "x", {}, true, false, 1), leaf::Error);
  leaf::pki::Pem other = leaf::pki::make_ca("other CA", 30);
  CHECK(message_of([&] { leaf::pki::make_cert({ca.cert_pem, other.key_pem}, "x", {}, true, false, 1); }) ==
        "CA certificate and key do not match");
}

TEST_CASE("pki: check_cert_key_pair") {
  TempDir dir;
  leaf::pki::Pem ca = leaf::pki::make_ca("test CA", 30);
  leaf::pki::Pem a = leaf::pki::make_cert(ca, "a", {"localhost"}, false, true, 7);
  leaf::pki::Pem b = leaf::pki::make_cert(ca, "b", {"localhost"}, false, true, 7);
  std::string cert = dir.write("a.pem", a.cert_pem);
  std::string key = dir.write("a.key", a.key_pem);
  std::string other_key = dir.write("b.key", b.key_pem);
  std::string garbage = dir.write("garbage.pem", "not a pem file\n");

  CHECK_NOTHROW(leaf::pki::check_cert_key_pair(cert, key));
  CHECK(message_of([&] { leaf::pki::check_cert_key_pair(cert, other_key); }) ==
        "client certificate and key do not match (cert " + cert + ", key " + other_key + ")");
  CHECK(message_of([&] { leaf::pki::check_cert_key_pair(garbage, key); }) ==
        "certificate file " + garbage + ": no PEM certificate found");
  CHECK(message_of([&] { leaf::pki::check_cert_key_pair(cert, garbage); }).rfind("key file " + garbage + ": ", 0) ==
        0);
  std::string missing = (dir.path / "missing.key").string();
  CHECK(message_of([&] { leaf::pki::check_cert_key_pair(cert, missing); }) ==
        "key file " + missing + ": cannot open: No such file or directory");
}

TEST_CASE("pki: check_ca_file") {
  TempDir dir;
  leaf::pki::Pem ca1 = leaf::pki::make_ca("CA one", 30);
  leaf::pki::Pem ca2 = leaf::pki::make_ca("CA two", 30);
  CHECK_NOTHROW(leaf::pki::check_ca_file(dir.write("one.pem", ca1.cert_pem)));
  CHECK_NOTHROW(leaf::pki::check_ca_file(dir.write("bundle.pem", ca1.cert_pem + ca2.cert_pem)));

  std::string garbage = dir.write("garbage.pem", "garbage\x01\x02 not PEM\n");
  CHECK(message_of([&] { leaf::pki::check_ca_file(garbage); }) == "CA file " + garbage + ": no PEM certificate found");
  std::string empty = dir.write("empty.pem", "");
  CHECK(message_of([&] { leaf::pki::check_ca_file(empty); }) == "CA file " + empty + ": no PEM certificate found");
  // A key alone is not a certificate.
  std::string key_only = dir.write("key.pem", ca1.key_pem);
  CHECK(message_of([&] { leaf::pki::check_ca_file(key_only); }) == "CA file " + key_only + ": no PEM certificate found");
  // A damaged certificate after a good one is reported as malformed.
  std::string broken = dir.write("broken.pem", ca1.cert_pem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  CHECK(message_of([&] { leaf::pki::check_ca_file(broken); }).rfind("CA file " + broken + ": malformed PEM certificate", 0) ==
        0);
  CHECK_THROWS_AS(leaf::pki::check_ca_file((dir.path / "missing.pem").string()), leaf::Error);
  CHECK_THROWS_AS(leaf::pki::check_ca_file(dir.path.string()), leaf::Error);
}
