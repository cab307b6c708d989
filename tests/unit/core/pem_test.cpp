// leaf::pem: the structural checks `run` makes of its TLS files without OpenSSL; certificates
// and keys from leaf::pki (real OpenSSL output) must pass, and every broken shape must not.
#include "agent/core/pem.hpp"

#include <doctest/doctest.h>

#include <string>

#include "agent/preflight/pki.hpp"

using leaf::pem::certificates_problem;
using leaf::pem::private_key_problem;

TEST_CASE("pem: certificates from OpenSSL pass, alone and in a bundle, with CRLF line ends") {
  const leaf::pki::Pem ca1 = leaf::pki::make_ca("CA one", 30);
  const leaf::pki::Pem ca2 = leaf::pki::make_ca("CA two", 30);
  CHECK(certificates_problem(ca1.cert_pem) == "");
  CHECK(certificates_problem(ca1.cert_pem + ca2.cert_pem) == "");
  CHECK(certificates_problem("# a comment before\n" + ca1.cert_pem + "trailing text\n") == "");
  std::string crlf;
  for (char ch : ca1.cert_pem) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
  CHECK(certificates_problem(crlf) == "");
}

TEST_CASE("pem: what is not a certificate is refused, with the words pki::check_ca_file uses") {
  const leaf::pki::Pem ca = leaf::pki::make_ca("CA", 30);
  CHECK(certificates_problem("") == "no PEM certificate found");
  CHECK(certificates_problem("garbage\x01\x02 not PEM\n") == "no PEM certificate found");
  CHECK(certificates_problem(ca.key_pem) == "no PEM certificate found");  // a key alone
  const std::string zeros = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  CHECK(certificates_problem(ca.cert_pem + zeros).rfind("malformed PEM certificate (certificate 2 ", 0) == 0);
  CHECK(certificates_problem("-----BEGIN CERTIFICATE-----\nMIIB!!\n-----END CERTIFICATE-----\n").rfind("malformed PEM certificate", 0) == 0);
  const std::string cut = ca.cert_pem.substr(0, ca.cert_pem.size() / 2);  // a truncated copy
  CHECK(certificates_problem(cut).rfind("malformed PEM certificate (a BEGIN line without its END line)", 0) == 0);
  CHECK(certificates_problem("-----BEGIN CERTIFICATE-----\n") != "");
  CHECK(certificates_problem("-----BEGIN ").rfind("malformed PEM certificate", 0) == 0);
}

TEST_CASE("pem: unencrypted private keys pass, and encrypted, broken or missing ones do not") {
  const leaf::pki::Pem ca = leaf::pki::make_ca("CA", 30);
  CHECK(private_key_problem(ca.key_pem) == "");  // PKCS#8
  CHECK(private_key_problem(ca.cert_pem + ca.key_pem) == "");
  CHECK(private_key_problem(ca.cert_pem).rfind("no usable unencrypted PEM private key", 0) == 0);
  CHECK(private_key_problem("") != "");
  CHECK(private_key_problem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n")
            .find("encrypted") != std::string::npos);
  CHECK(private_key_problem("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMIIB\n"
                            "-----END RSA PRIVATE KEY-----\n")
            .find("encrypted") != std::string::npos);
  CHECK(private_key_problem("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n").find("not base64 DER") !=
        std::string::npos);
  // The first key block is the one nats-server uses: an encrypted one first is refused, and a
  // key type it cannot read is named.
  CHECK(private_key_problem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n" + ca.key_pem)
            .find("encrypted") != std::string::npos);
  CHECK(private_key_problem("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
            .find("a OPENSSH PRIVATE KEY block") != std::string::npos);
  // The problem never quotes the key's bytes.
  const std::string broken = "-----BEGIN PRIVATE KEY-----\nMIGH" + std::string("SECRETSECRET") + "!\n-----END PRIVATE KEY-----\n";
  CHECK(private_key_problem(broken).find("SECRET") == std::string::npos);
}
