// The local CA of local.auth = "tls" (see local_tls.hpp). Every OpenSSL object lives in a
// unique_ptr, so an exception frees (and, for keys, clears) everything.
#include "agent/config/local_tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstdio>

#include "agent/core/c_ptr.hpp"
#include "agent/core/error.hpp"

namespace leaf::local_tls {
namespace {

using BioPtr = Ptr<BIO, BIO_free_all>;
using BnPtr = Ptr<BIGNUM, BN_free>;
using ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using GenPtr = Ptr<GENERAL_NAME, GENERAL_NAME_free>;
using GensPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using KeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Ptr<X509, X509_free>;

[[noreturn]] void fail(const char* what) {
  char buf[256] = "unknown OpenSSL error";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  throw internal_error(std::string("local TLS boundary: ") + what + " failed: " + buf);
}
void check(int rc, const char* what) {
  if (rc <= 0) fail(what);
}
template <class T>
T* check(T* p, const char* what) {
  if (p == nullptr) fail(what);
  return p;
}

KeyPtr new_key() { return KeyPtr(check(EVP_EC_gen("P-256"), "EVP_EC_gen(P-256)")); }

X509Ptr new_cert(EVP_PKEY* key, const char* cn, int days) {
  X509Ptr x(check(X509_new(), "X509_new"));
  check(X509_set_version(x.get(), X509_VERSION_3), "X509_set_version");
  std::array<unsigned char, 16> raw{};
  check(RAND_bytes(raw.data(), static_cast<int>(raw.size())), "RAND_bytes");
  raw[0] = static_cast<unsigned char>((raw[0] & 0x7f) | 0x40);  // positive, never zero, 16 octets
  BnPtr bn(check(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr), "BN_bin2bn"));
  check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())), "BN_to_ASN1_INTEGER");
  X509_NAME* name = X509_get_subject_name(x.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0),
        "X509_NAME_add_entry_by_txt");
  check(X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) != nullptr, "X509_gmtime_adj");
  check(X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, nullptr) != nullptr, "X509_time_adj_ex");
  check(X509_set_pubkey(x.get(), key), "X509_set_pubkey");
  return x;
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr e(check(X509V3_EXT_conf_nid(nullptr, ctx, nid, value), "X509V3_EXT_conf_nid"));
  check(X509_add_ext(x, e.get(), -1), "X509_add_ext");
}

// subjectAltName from GENERAL_NAMEs (never a "DNS:a,IP:b" string): IP literals, e-mail
// addresses (`email` true) or DNS names.
void add_san(X509* x, const std::vector<std::string>& names, bool email) {
  GensPtr gens(check(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
  for (const std::string& n : names) {
    unsigned char ip[16];
    const int ip_len = email ? 0 : inet_pton(AF_INET, n.c_str(), ip) == 1 ? 4 : inet_pton(AF_INET6, n.c_str(), ip) == 1 ? 16 : 0;
    GenPtr g(check(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    if (ip_len != 0) {
      ASN1_OCTET_STRING* s = check(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
      GENERAL_NAME_set0_value(g.get(), GEN_IPADD, s);  // g owns s from here on
      check(ASN1_OCTET_STRING_set(s, ip, ip_len), "ASN1_OCTET_STRING_set");
    } else {
      bool ok = !n.empty();
      for (char c : n) ok = ok && c > 0x20 && c < 0x7f;
      if (!ok) throw config_error("local TLS boundary: '" + n + "' is not a name a certificate can carry");
      ASN1_IA5STRING* s = check(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
      GENERAL_NAME_set0_value(g.get(), email ? GEN_EMAIL : GEN_DNS, s);
      check(ASN1_STRING_set(s, n.data(), static_cast<int>(n.size())), "ASN1_STRING_set");
    }
    check(sk_GENERAL_NAME_push(gens.get(), g.get()), "sk_GENERAL_NAME_push");
    g.release();
  }
  check(X509_add1_ext_i2d(x, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_APPEND), "X509_add1_ext_i2d(subjectAltName)");
}

std::string cert_pem(X509* x) {
  BioPtr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(b.get(), x), "PEM_write_bio_X509");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// The key as PKCS#8 PEM, straight into wiped memory; the BIO's copy is cleared before it is freed.
SecretString key_pem(EVP_PKEY* k) {
  BioPtr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  const long n = BIO_get_mem_data(b.get(), &data);
  SecretString s(data, static_cast<size_t>(n));
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return s;
}

std::string fingerprint(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(X509_digest(x, EVP_sha256(), md, &len), "X509_digest");
  std::string out;
  char hex[4];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, i ? ":%02X" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

Issued issue_leaf(X509* ca, EVP_PKEY* ca_key, const char* cn, const std::vector<std::string>& names, bool server,
                  int days) {
  KeyPtr key = new_key();
  X509Ptr x = new_cert(key.get(), cn, days);
  check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca)), "X509_set_issuer_name");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(x.get(), &ctx, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid");
  add_san(x.get(), names, !server);
  check(X509_sign(x.get(), ca_key, EVP_sha256()), "X509_sign");
  return {cert_pem(x.get()), key_pem(key.get())};
}

}  // namespace

Material issue(const std::vector<std::string>& server_names, int days) {
  ERR_clear_error();
  // The CA's key: made here, used here, freed (and cleared by OpenSSL) at return. Never serialised.
  KeyPtr ca_key = new_key();
  X509Ptr ca = new_cert(ca_key.get(), "leaf-agent local CA", days);
  check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())), "X509_set_issuer_name");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.get(), ca.get(), nullptr, nullptr, 0);
  add_ext(ca.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  add_ext(ca.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), &ctx, NID_subject_key_identifier, "hash");
  check(X509_sign(ca.get(), ca_key.get(), EVP_sha256()), "X509_sign");

  Material m;
  m.ca_pem = cert_pem(ca.get());
  m.ca_fingerprint = fingerprint(ca.get());
  m.server = issue_leaf(ca.get(), ca_key.get(), "leaf-agent local server", server_names, true, days);
  m.host = issue_leaf(ca.get(), ca_key.get(), "leaf-agent host", {kHostUser}, false, days);
  m.health = issue_leaf(ca.get(), ca_key.get(), "leaf-agent health", {kHealthUser}, false, days);
  return m;
}

}  // namespace leaf::local_tls
