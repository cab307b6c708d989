// In-memory X.509 issuance for development setups (a throwaway CA and leaf certificates signed by
// it), plus preflight checks of the PEM files a configuration points at. OpenSSL 3.
// Failures of OpenSSL itself throw leaf::internal_error; bad input throws leaf::config_error.
#pragma once

#include <string>
#include <vector>

namespace leaf::pki {

// A certificate and its private key, both PEM. The key is unencrypted PKCS#8 ("BEGIN PRIVATE KEY").
struct Pem {
  std::string cert_pem;
  std::string key_pem;
};

// Self-signed CA: EC P-256, X509v3, random positive 128-bit serial, subject CN=common_name,
// O=leaf-agent dev, valid from now-1h for `days` days; critical basicConstraints CA:TRUE, critical
// keyUsage keyCertSign,cRLSign, subjectKeyIdentifier; signed with SHA-256.
Pem make_ca(const std::string& common_name, int days);

// Leaf certificate signed by `ca`: EC P-256, subject CN=common_name, subjectAltName from `names`
// (IPv4/IPv6 literals become IP:, anything else DNS:), critical basicConstraints CA:FALSE, critical
// keyUsage digitalSignature,keyEncipherment, extendedKeyUsage serverAuth and/or clientAuth per the
// flags, subject/authorityKeyIdentifier; valid from now-1h for `days` days; SHA-256.
Pem make_cert(const Pem& ca, const std::string& common_name, const std::vector<std::string>& names,
              bool server_auth, bool client_auth, int days);

// Preflight checks: return normally or throw leaf::config_error with a one-line message naming the
// file and the problem.
// `path` exists, is readable and holds at least one PEM certificate (all of them well-formed).
void check_ca_file(const std::string& path);
// Both files parse (first certificate of `cert_path`, private key of `key_path`) and the key
// belongs to the certificate.
void check_cert_key_pair(const std::string& cert_path, const std::string& key_path);

}  // namespace leaf::pki
