// Dev PKI with OpenSSL 3: every OpenSSL object lives in a unique_ptr so error paths (exceptions)
// free everything; the OpenSSL error queue is cleared whenever we turn it into a message so a
// stale entry never leaks into a later, unrelated message.
#include "agent/core/c_ptr.hpp"
#include "agent/preflight/pki.hpp"

#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace leaf::pki {
namespace {


using BioPtr = Ptr<BIO, BIO_free_all>;
using BnPtr = Ptr<BIGNUM, BN_free>;
using ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using GenPtr = Ptr<GENERAL_NAME, GENERAL_NAME_free>;
using GensPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;
using KeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Ptr<X509, X509_free>;

// The oldest queued OpenSSL error (usually the root cause) as text; empties the queue.
std::string take_error() {
  char buf[256] = "unknown OpenSSL error";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

[[noreturn]] void fail(const char* what) { throw internal_error(std::string(what) + " failed: " + take_error()); }

// OpenSSL signals failure with <= 0 or nullptr.
void check(int rc, const char* what) {
  if (rc <= 0) fail(what);
}
template <class T>
T* check(T* p, const char* what) {
  if (p == nullptr) fail(what);
  return p;
}

// After a failed PEM read: "nothing there" vs. "there, but broken". Empties the queue.
std::string pem_problem(const char* kind) {
  unsigned long e = ERR_peek_last_error();
  bool none = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
  std::string err = take_error();
  return none ? std::string("no PEM ") + kind + " found" : std::string("malformed PEM ") + kind + " (" + err + ")";
}

// Never prompt on the terminal for a passphrase: encrypted keys are simply unsupported.
int no_password(char*, int, int, void*) { return -1; }

BioPtr mem_bio(const std::string& s) {
  return BioPtr(check(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())), "BIO_new_mem_buf"));
}

// Opens a file for PEM reading; `what` ("CA file /x") prefixes the messages.
BioPtr open_file(const std::string& path, const std::string& what) {
  struct stat pre {};
  if (::stat(path.c_str(), &pre) != 0) throw config_error(what + ": cannot open: " + std::strerror(errno));
  try {
    fs::check_regular_file(path, Exit::config);  // no FIFO, device or /dev/zero: bounded, never blocking
  } catch (const Error& e) {
    throw config_error(what + ": " + e.what());
  }
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw config_error(what + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::fclose(f);
    throw config_error(what + ": is a directory");
  }
  BIO* b = BIO_new_fp(f, BIO_CLOSE);
  if (b == nullptr) std::fclose(f);
  return BioPtr(check(b, "BIO_new_fp"));
}

X509Ptr read_cert(BIO* b, const std::string& what) {
  X509Ptr c(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  if (!c) throw config_error(what + ": " + pem_problem("certificate"));
  return c;
}

KeyPtr read_key(BIO* b, const std::string& what) {
  KeyPtr k(PEM_read_bio_PrivateKey(b, nullptr, no_password, nullptr));
  if (!k) throw config_error(what + ": no usable unencrypted PEM private key (" + take_error() + ")");
  return k;
}

std::string cert_pem(X509* x) {
  BioPtr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(b.get(), x), "PEM_write_bio_X509");
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

// PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted. The BIO's copy is wiped before it is freed.
std::string key_pem(EVP_PKEY* k) {
  BioPtr b(check(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  std::string s(data, static_cast<size_t>(n));
  OPENSSL_cleanse(data, static_cast<size_t>(n));
  return s;
}

// Everything a CA and a leaf share: v3, random serial, subject, validity, public key.
X509Ptr new_cert(EVP_PKEY* key, const std::string& cn, const char* org, int days) {
  // X.509 upper bound for CN is 64 characters; OpenSSL would reject longer ones opaquely.
  if (cn.empty() || cn.size() > 64) throw config_error("certificate common name must be 1 to 64 characters: '" + cn + "'");
  if (days <= 0) throw config_error("certificate validity must be at least 1 day, got " + std::to_string(days));
  X509Ptr x(check(X509_new(), "X509_new"));
  check(X509_set_version(x.get(), X509_VERSION_3), "X509_set_version");

  // 16 random bytes, top bit clear so the DER INTEGER is positive without padding, bit 6 set so
  // it is never zero and always exactly 16 octets.
  std::array<unsigned char, 16> raw{};
  check(RAND_bytes(raw.data(), static_cast<int>(raw.size())), "RAND_bytes");
  raw[0] = static_cast<unsigned char>((raw[0] & 0x7f) | 0x40);
  BnPtr bn(check(BN_bin2bn(raw.data(), static_cast<int>(raw.size()), nullptr), "BN_bin2bn"));
  check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())), "BN_to_ASN1_INTEGER");

  X509_NAME* name = X509_get_subject_name(x.get());
  auto add_entry = [&](const char* field, const std::string& value) {
    check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                     -1, -1, 0),
          "X509_NAME_add_entry_by_txt");
  };
  if (org != nullptr) add_entry("O", org);
  add_entry("CN", cn);

  // Backdated an hour so small clock skew between hosts does not make a fresh cert "not yet valid".
  check(X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600), "X509_gmtime_adj");
  check(X509_time_adj_ex(X509_getm_notAfter(x.get()), days, 0, nullptr), "X509_time_adj_ex");
  check(X509_set_pubkey(x.get(), key), "X509_set_pubkey");
  return x;
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr e(check(X509V3_EXT_conf_nid(nullptr, ctx, nid, value), "X509V3_EXT_conf_nid"));
  check(X509_add_ext(x, e.get(), -1), "X509_add_ext");
}

// subjectAltName built as GENERAL_NAMEs rather than via a "DNS:a,IP:b" config string, so a
// name containing ',' or ':' cannot inject extra entries.
void add_san(X509* x, const std::vector<std::string>& names) {
  if (names.empty()) return;
  GensPtr gens(check(sk_GENERAL_NAME_new_null(), "sk_GENERAL_NAME_new_null"));
  for (const std::string& n : names) {
    unsigned char ip[16];
    int ip_len = inet_pton(AF_INET, n.c_str(), ip) == 1 ? 4 : inet_pton(AF_INET6, n.c_str(), ip) == 1 ? 16 : 0;
    GenPtr g(check(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    ASN1_STRING* s = nullptr;
    if (ip_len != 0) {
      s = check(ASN1_OCTET_STRING_new(), "ASN1_OCTET_STRING_new");
      GENERAL_NAME_set0_value(g.get(), GEN_IPADD, s);  // g owns s from here on
      check(ASN1_OCTET_STRING_set(s, ip, ip_len), "ASN1_OCTET_STRING_set");
    } else {
      // dNSName is IA5 (ASCII); reject blanks and control/non-ASCII bytes as bad input.
      bool ok = !n.empty();
      for (char c : n) ok = ok && c > 0x20 && c < 0x7f;  // right whether char is signed or not
      if (!ok) throw config_error("certificate name is neither an IP address nor a DNS name: '" + n + "'");
      s = check(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new");
      GENERAL_NAME_set0_value(g.get(), GEN_DNS, s);
      check(ASN1_STRING_set(s, n.data(), static_cast<int>(n.size())), "ASN1_STRING_set");
    }
    check(sk_GENERAL_NAME_push(gens.get(), g.get()), "sk_GENERAL_NAME_push");
    g.release();  // now owned by gens
  }
  check(X509_add1_ext_i2d(x, NID_subject_alt_name, gens.get(), 0, X509V3_ADD_APPEND), "X509_add1_ext_i2d(subjectAltName)");
}

void sign(X509* x, EVP_PKEY* key) { check(X509_sign(x, key, EVP_sha256()), "X509_sign"); }

KeyPtr new_key() { return KeyPtr(check(EVP_EC_gen("P-256"), "EVP_EC_gen(P-256)")); }

}  // namespace

Pem make_ca(const std::string& common_name, int days) {
  ERR_clear_error();
  KeyPtr key = new_key();
  X509Ptr x = new_cert(key.get(), common_name, "leaf-agent dev", days);
  check(X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())), "X509_set_issuer_name");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
  add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  sign(x.get(), key.get());
  return {cert_pem(x.get()), key_pem(key.get())};
}

Pem make_cert(const Pem& ca, const std::string& common_name, const std::vector<std::string>& names,
              bool server_auth, bool client_auth, int days) {
  ERR_clear_error();
  // No EKU at all would mean "any purpose": never what a caller of this function wants.
  if (!server_auth && !client_auth) throw config_error("certificate for '" + common_name + "' needs serverAuth or clientAuth");
  X509Ptr ca_cert = read_cert(mem_bio(ca.cert_pem).get(), "CA certificate");
  KeyPtr ca_key = read_key(mem_bio(ca.key_pem).get(), "CA key");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    throw config_error("CA certificate and key do not match");
  }

  KeyPtr key = new_key();
  X509Ptr x = new_cert(key.get(), common_name, nullptr, days);
  check(X509_set_issuer_name(x.get(), X509_get_subject_name(ca_cert.get())), "X509_set_issuer_name");
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca_cert.get(), x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(x.get(), &ctx, NID_ext_key_usage,
          server_auth && client_auth ? "serverAuth,clientAuth" : server_auth ? "serverAuth" : "clientAuth");
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  // keyid from the CA's SKI; issuer+serial only as a fallback for a CA without one.
  add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid,issuer");
  add_san(x.get(), names);
  sign(x.get(), ca_key.get());
  return {cert_pem(x.get()), key_pem(key.get())};
}

void check_ca_file(const std::string& path) {
  ERR_clear_error();
  const std::string what = "CA file " + path;
  BioPtr b = open_file(path, what);
  int count = 0;
  while (X509Ptr c{PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)}) ++count;
  // The loop always ends on a failed read; only "no more PEM blocks" is the normal end.
  std::string problem = pem_problem("certificate");
  if (count == 0 || problem.rfind("no PEM", 0) != 0) throw config_error(what + ": " + problem);
}

void check_cert_key_pair(const std::string& cert_path, const std::string& key_path) {
  ERR_clear_error();
  X509Ptr cert = read_cert(open_file(cert_path, "certificate file " + cert_path).get(), "certificate file " + cert_path);
  KeyPtr key = read_key(open_file(key_path, "key file " + key_path).get(), "key file " + key_path);
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    throw config_error("client certificate and key do not match (cert " + cert_path + ", key " + key_path + ")");
  }
}

}  // namespace leaf::pki
