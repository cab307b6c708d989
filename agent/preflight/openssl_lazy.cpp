// OpenSSL loaded on first use (dlopen of libssl.so.3) instead of linked in: leaf-agent (the
// LEAF_STATIC_DEPS build only) links this file in place of libssl/libcrypto. Linked statically,
// OpenSSL's ~350 KB of pointer tables (.data.rel.ro) were relocated at every exec, about 110 page
// faults and 2 ms of every `leaf-agent health` and `run` (issue #10), though only the upstream
// TLS probe, `init`'s TLS file checks and `dev-hub`'s certificates use it.
//
// Each function the agent calls is defined here with the header's own prototype (the compiler
// rejects a mismatch) and forwards to the symbol libssl.so.3 (with libcrypto.so.3) provides.
// libcurl, when loaded, shares that one OpenSSL. Without libssl3 a stub throws leaf::Error
// (internal) naming the package; its callers turn that into their one-line error. The tests link
// OpenSSL itself, not this file; the integration tests run these stubs through leaf-agent.
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdarg>
#include <cstring>
#include <string>

#include "agent/core/error.hpp"
#include "agent/io/openssl_first.hpp"

namespace {

void* libssl() {
  static void* const lib = [] {
    leaf::openssl::first_call_without_atexit();  // see openssl_first.hpp
    void* l = ::dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!l) throw leaf::internal_error(std::string("cannot load OpenSSL 3 (install libssl3): ") + ::dlerror());
    return l;
  }();
  return lib;
}

template <typename F>
F resolve(const char* name) {
  void* sym = ::dlsym(libssl(), name);  // searches libssl.so.3 and then libcrypto.so.3
  if (!sym) throw leaf::internal_error(std::string("OpenSSL 3 has no ") + name + " (libssl3 >= 3.0 needed)");
  return reinterpret_cast<F>(sym);
}

}  // namespace

// One function-local static per symbol: resolved once, thread safe.
#define LEAF_LAZY(ret, name, params, args)                                   \
  extern "C" ret name params {                                               \
    static const auto real = resolve<decltype(&::name)>(#name);              \
    return real args;                                                        \
  }

LEAF_LAZY(ASN1_IA5STRING *, ASN1_IA5STRING_new, (), ())
LEAF_LAZY(ASN1_OCTET_STRING *, ASN1_OCTET_STRING_new, (), ())
LEAF_LAZY(int, ASN1_OCTET_STRING_set, (ASN1_OCTET_STRING *a0, const unsigned char *a1, int a2), (a0, a1, a2))
LEAF_LAZY(int, ASN1_STRING_set, (ASN1_STRING *a0, const void *a1, int a2), (a0, a1, a2))
LEAF_LAZY(long, BIO_ctrl, (BIO *a0, int a1, long a2, void *a3), (a0, a1, a2, a3))
LEAF_LAZY(size_t, BIO_ctrl_pending, (BIO *a0), (a0))
LEAF_LAZY(int, BIO_free, (BIO *a0), (a0))
LEAF_LAZY(void, BIO_free_all, (BIO *a0), (a0))
LEAF_LAZY(BIO *, BIO_new, (const BIO_METHOD *a0), (a0))
LEAF_LAZY(BIO *, BIO_new_fp, (FILE *a0, int a1), (a0, a1))
LEAF_LAZY(BIO *, BIO_new_mem_buf, (const void *a0, int a1), (a0, a1))
LEAF_LAZY(int, BIO_read, (BIO *a0, void *a1, int a2), (a0, a1, a2))
LEAF_LAZY(const BIO_METHOD *, BIO_s_mem, (), ())
LEAF_LAZY(int, BIO_write, (BIO *a0, const void *a1, int a2), (a0, a1, a2))
LEAF_LAZY(BIGNUM *, BN_bin2bn, (const unsigned char *a0, int a1, BIGNUM *a2), (a0, a1, a2))
LEAF_LAZY(void, BN_free, (BIGNUM *a0), (a0))
LEAF_LAZY(ASN1_INTEGER *, BN_to_ASN1_INTEGER, (const BIGNUM *a0, ASN1_INTEGER *a1), (a0, a1))
LEAF_LAZY(void, ERR_clear_error, (), ())
LEAF_LAZY(void, ERR_error_string_n, (unsigned long a0, char *a1, size_t a2), (a0, a1, a2))
LEAF_LAZY(unsigned long, ERR_get_error, (), ())
LEAF_LAZY(unsigned long, ERR_peek_last_error, (), ())
LEAF_LAZY(const char *, ERR_reason_error_string, (unsigned long a0), (a0))
LEAF_LAZY(void, EVP_PKEY_free, (EVP_PKEY *a0), (a0))
LEAF_LAZY(const EVP_MD *, EVP_sha256, (), ())
LEAF_LAZY(void, GENERAL_NAMES_free, (GENERAL_NAMES *a0), (a0))
LEAF_LAZY(void, GENERAL_NAME_free, (GENERAL_NAME *a0), (a0))
LEAF_LAZY(GENERAL_NAME *, GENERAL_NAME_new, (), ())
LEAF_LAZY(void, GENERAL_NAME_set0_value, (GENERAL_NAME *a0, int a1, void *a2), (a0, a1, a2))
LEAF_LAZY(void, OPENSSL_cleanse, (void *a0, size_t a1), (a0, a1))
LEAF_LAZY(OPENSSL_STACK *, OPENSSL_sk_new_null, (), ())
LEAF_LAZY(int, OPENSSL_sk_push, (OPENSSL_STACK *a0, const void *a1), (a0, a1))
LEAF_LAZY(EVP_PKEY *, PEM_read_bio_PrivateKey, (BIO *a0, EVP_PKEY **a1, pem_password_cb *a2, void *a3), (a0, a1, a2, a3))
LEAF_LAZY(X509 *, PEM_read_bio_X509, (BIO *a0, X509 **a1, pem_password_cb *a2, void *a3), (a0, a1, a2, a3))
LEAF_LAZY(int, PEM_write_bio_PrivateKey, (BIO *a0, const EVP_PKEY *a1, const EVP_CIPHER *a2, const unsigned char *a3, int a4, pem_password_cb *a5, void *a6), (a0, a1, a2, a3, a4, a5, a6))
LEAF_LAZY(int, PEM_write_bio_X509, (BIO *a0, const X509 *a1), (a0, a1))
LEAF_LAZY(int, RAND_bytes, (unsigned char *a0, int a1), (a0, a1))
LEAF_LAZY(int, SSL_CTX_check_private_key, (const SSL_CTX *a0), (a0))
LEAF_LAZY(long, SSL_CTX_ctrl, (SSL_CTX *a0, int a1, long a2, void *a3), (a0, a1, a2, a3))
LEAF_LAZY(void, SSL_CTX_free, (SSL_CTX *a0), (a0))
LEAF_LAZY(int, SSL_CTX_load_verify_locations, (SSL_CTX *a0, const char *a1, const char *a2), (a0, a1, a2))
LEAF_LAZY(SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *a0), (a0))
LEAF_LAZY(void, SSL_CTX_set_default_passwd_cb, (SSL_CTX *a0, pem_password_cb *a1), (a0, a1))
LEAF_LAZY(int, SSL_CTX_set_default_verify_paths, (SSL_CTX *a0), (a0))
LEAF_LAZY(void, SSL_CTX_set_msg_callback, (SSL_CTX *a0, void (*a1)(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)), (a0, a1))
LEAF_LAZY(void, SSL_CTX_set_verify, (SSL_CTX *a0, int a1, SSL_verify_cb a2), (a0, a1, a2))
LEAF_LAZY(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX *a0, const char *a1, int a2), (a0, a1, a2))
LEAF_LAZY(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX *a0, const char *a1), (a0, a1))
LEAF_LAZY(long, SSL_ctrl, (SSL *a0, int a1, long a2, void *a3), (a0, a1, a2, a3))
LEAF_LAZY(int, SSL_do_handshake, (SSL *a0), (a0))
LEAF_LAZY(void, SSL_free, (SSL *a0), (a0))
LEAF_LAZY(X509_VERIFY_PARAM *, SSL_get0_param, (SSL *a0), (a0))
LEAF_LAZY(int, SSL_get_error, (const SSL *a0, int a1), (a0, a1))
LEAF_LAZY(long, SSL_get_verify_result, (const SSL *a0), (a0))
LEAF_LAZY(SSL *, SSL_new, (SSL_CTX *a0), (a0))
LEAF_LAZY(int, SSL_read, (SSL *a0, void *a1, int a2), (a0, a1, a2))
LEAF_LAZY(void, SSL_set_bio, (SSL *a0, BIO *a1, BIO *a2), (a0, a1, a2))
LEAF_LAZY(void, SSL_set_connect_state, (SSL *a0), (a0))
LEAF_LAZY(int, SSL_set_fd, (SSL *a0, int a1), (a0, a1))
LEAF_LAZY(int, SSL_shutdown, (SSL *a0), (a0))
LEAF_LAZY(int, SSL_version, (const SSL *a0), (a0))
LEAF_LAZY(int, SSL_write, (SSL *a0, const void *a1, int a2), (a0, a1, a2))
LEAF_LAZY(const SSL_METHOD *, TLS_client_method, (), ())
LEAF_LAZY(X509_EXTENSION *, X509V3_EXT_conf_nid, (struct lhash_st_CONF_VALUE *a0, X509V3_CTX *a1, int a2, const char *a3), (a0, a1, a2, a3))
LEAF_LAZY(void, X509V3_set_ctx, (X509V3_CTX *a0, X509 *a1, X509 *a2, X509_REQ *a3, X509_CRL *a4, int a5), (a0, a1, a2, a3, a4, a5))
LEAF_LAZY(void, X509_EXTENSION_free, (X509_EXTENSION *a0), (a0))
LEAF_LAZY(int, X509_NAME_add_entry_by_txt, (X509_NAME *a0, const char *a1, int a2, const unsigned char *a3, int a4, int a5, int a6), (a0, a1, a2, a3, a4, a5, a6))
LEAF_LAZY(int, X509_VERIFY_PARAM_set1_host, (X509_VERIFY_PARAM *a0, const char *a1, size_t a2), (a0, a1, a2))
LEAF_LAZY(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM *a0, const char *a1), (a0, a1))
LEAF_LAZY(void, X509_VERIFY_PARAM_set_hostflags, (X509_VERIFY_PARAM *a0, unsigned int a1), (a0, a1))
LEAF_LAZY(int, X509_add1_ext_i2d, (X509 *a0, int a1, void *a2, int a3, unsigned long a4), (a0, a1, a2, a3, a4))
LEAF_LAZY(int, X509_add_ext, (X509 *a0, X509_EXTENSION *a1, int a2), (a0, a1, a2))
LEAF_LAZY(int, X509_check_private_key, (const X509 *a0, const EVP_PKEY *a1), (a0, a1))
LEAF_LAZY(int, X509_digest, (const X509 *a0, const EVP_MD *a1, unsigned char *a2, unsigned int *a3), (a0, a1, a2, a3))
LEAF_LAZY(void, X509_free, (X509 *a0), (a0))
LEAF_LAZY(ASN1_INTEGER *, X509_get_serialNumber, (X509 *a0), (a0))
LEAF_LAZY(X509_NAME *, X509_get_subject_name, (const X509 *a0), (a0))
LEAF_LAZY(ASN1_TIME *, X509_getm_notAfter, (const X509 *a0), (a0))
LEAF_LAZY(ASN1_TIME *, X509_getm_notBefore, (const X509 *a0), (a0))
LEAF_LAZY(ASN1_TIME *, X509_gmtime_adj, (ASN1_TIME *a0, long a1), (a0, a1))
LEAF_LAZY(X509 *, X509_new, (), ())
LEAF_LAZY(int, X509_set_issuer_name, (X509 *a0, const X509_NAME *a1), (a0, a1))
LEAF_LAZY(int, X509_set_pubkey, (X509 *a0, EVP_PKEY *a1), (a0, a1))
LEAF_LAZY(int, X509_set_version, (X509 *a0, long a1), (a0, a1))
LEAF_LAZY(int, X509_sign, (X509 *a0, EVP_PKEY *a1, const EVP_MD *a2), (a0, a1, a2))
LEAF_LAZY(ASN1_TIME *, X509_time_adj_ex, (ASN1_TIME *a0, int a1, long a2, time_t *a3), (a0, a1, a2, a3))
LEAF_LAZY(const char *, X509_verify_cert_error_string, (long a0), (a0))

// Variadic: only the form EVP_EC_gen(curve) expands to is used (agent/preflight/pki.cpp).
extern "C" EVP_PKEY* EVP_PKEY_Q_keygen(OSSL_LIB_CTX* libctx, const char* propq, const char* type, ...) {
  static const auto real = resolve<decltype(&::EVP_PKEY_Q_keygen)>("EVP_PKEY_Q_keygen");
  if (type == nullptr || std::strcmp(type, "EC") != 0) {
    throw leaf::internal_error("EVP_PKEY_Q_keygen: only \"EC\" keys are forwarded (agent/preflight/openssl_lazy.cpp)");
  }
  va_list ap;
  va_start(ap, type);
  const char* curve = va_arg(ap, char*);  // EVP_EC_gen passes a char*
  va_end(ap);
  return real(libctx, propq, type, curve);
}
