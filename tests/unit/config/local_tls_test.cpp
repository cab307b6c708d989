// local.auth = "tls": the local CA and its certificates, the files, the rendering, the host's variables.
#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "agent/config/config.hpp"
#include "agent/config/local_boundary.hpp"
#include "agent/config/local_tls.hpp"
#include "agent/config/render.hpp"
#include "agent/config/templates_builtin.hpp"
#include "agent/io/fs.hpp"
#include "error_of.hpp"

using namespace leaf;

namespace {
X509* cert_of(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return x;
}

// Verifies `leaf` against `ca` for `purpose` (X509_PURPOSE_SSL_CLIENT / _SERVER).
bool verifies(const std::string& ca_pem, const std::string& leaf_pem, int purpose) {
  X509* ca = cert_of(ca_pem);
  X509* leaf = cert_of(leaf_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(leaf);
  X509_free(ca);
  return ok;
}

std::string san_email(const std::string& pem) {
  X509* x = cert_of(pem);
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  std::string out;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_EMAIL) out += std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.rfc822Name)),
                                                 static_cast<size_t>(ASN1_STRING_length(g->d.rfc822Name)));
    if (g->type == GEN_DNS) out += "(dns)";
  }
  GENERAL_NAMES_free(names);
  X509_free(x);
  return out;
}

config::Config tls_config(const std::string& state_dir, const std::string& extra = "") {
  return config::load("[upstream]\nurls = [\"tls://hub:7422\"]\n[local]\nauth = \"tls\"\n" + extra + "[agent]\nstate_dir = \"" +
                          state_dir + "\"\n",
                      "t.toml", {}, {});
}

struct StateDir {
  std::string path;
  StateDir() {
    char tmpl[] = "/tmp/leaf-tls-unit-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~StateDir() { std::filesystem::remove_all(path); }
};
}  // namespace

TEST_CASE("local tls: the CA signs a server and two client certificates, each for its purpose") {
  const auto m = local_tls::issue({"localhost", "127.0.0.1", "::1"});
  CHECK(verifies(m.ca_pem, m.server.cert_pem, X509_PURPOSE_SSL_SERVER));
  CHECK(verifies(m.ca_pem, m.host.cert_pem, X509_PURPOSE_SSL_CLIENT));
  CHECK(verifies(m.ca_pem, m.health.cert_pem, X509_PURPOSE_SSL_CLIENT));
  CHECK_FALSE(verifies(m.ca_pem, m.host.cert_pem, X509_PURPOSE_SSL_SERVER));  // clientAuth only
  CHECK_FALSE(verifies(m.ca_pem, m.server.cert_pem, X509_PURPOSE_SSL_CLIENT));
  // nats-server maps by the e-mail SAN first: exactly one, the user name, and no DNS name.
  CHECK(san_email(m.host.cert_pem) == local_tls::kHostUser);
  CHECK(san_email(m.health.cert_pem) == local_tls::kHealthUser);
  CHECK(std::string(m.host.key_pem.c_str()).find("-----BEGIN PRIVATE KEY") == 0);
  CHECK(m.ca_fingerprint.size() == 95);  // 32 bytes, hex with colons
  // A new CA every time: the old certificates do not verify against it.
  const auto again = local_tls::issue({"localhost"});
  CHECK(again.ca_fingerprint != m.ca_fingerprint);
  CHECK_FALSE(verifies(again.ca_pem, m.host.cert_pem, X509_PURPOSE_SSL_CLIENT));
}

TEST_CASE("local tls: mint writes 0600 files, the host's variables name them, a failed start leaves none") {
  StateDir d;
  const auto c = tls_config(d.path, "listen = \"127.0.0.1:4333\"\n");
  const auto f = local_boundary::tls_files(c);
  {
    const auto ch = local_boundary::mint(c, 1700000000);
    REQUIRE(ch.enabled());
    CHECK(ch.tls);
    for (const auto* p : {&f.ca, &f.server_cert, &f.server_key, &f.host_cert, &f.host_key, &f.health_cert, &f.health_key}) {
      struct stat st {};
      REQUIRE(::stat(p->c_str(), &st) == 0);
      CHECK((st.st_mode & 07777) == 0600);
    }
    const auto env = local_boundary::host_env(c, ch);
    CHECK(env == std::vector<std::string>{"NATS_URL=tls://127.0.0.1:4333", "NATS_CA_FILE=" + f.ca, "NATS_CERT_FILE=" + f.host_cert,
                                          "NATS_KEY_FILE=" + f.host_key});
    CHECK(local_boundary::status(c, ch)["mode"] == "tls");
    CHECK(local_boundary::status(c, ch).dump().find("PRIVATE") == std::string::npos);
    // Not taken over by write_files: the chain's end (a bootstrap that threw) removes them.
  }
  struct stat st {};
  CHECK(::stat(f.host_key.c_str(), &st) != 0);

  {
    const auto ch = local_boundary::mint(c, 1700000000);
    local_boundary::write_files(c, ch);
  }
  CHECK(::stat(f.host_key.c_str(), &st) == 0);  // taken over: stay until remove_files (the stop)
  local_boundary::remove_files(c);
  CHECK(::stat(f.host_key.c_str(), &st) != 0);
  CHECK(::stat(f.ca.c_str(), &st) != 0);
}

TEST_CASE("local tls: rendering - a tls block with verify_and_map, the users, permissions - a template without it is refused") {
  StateDir d;
  const auto c = tls_config(d.path, "host_pub_deny = [\"secret.>\"]\nhost_sub_allow = [\"a.>\", \"_INBOX.>\"]\n");
  const std::string out = render::nats_config(c, render::builtin_template(c), "leafnode.conf", "leaf-x");
  const auto f = local_boundary::tls_files(c);
  CHECK(out.find("verify_and_map: true") != std::string::npos);
  CHECK(out.find("ca_file: \"" + f.ca + "\"") != std::string::npos);
  CHECK(out.find("{user: \"host@leaf-agent.local\", permissions: {") != std::string::npos);
  CHECK(out.find("publish: { deny: [\"secret.>\"] }") != std::string::npos);
  CHECK(out.find("subscribe: { allow: [\"a.>\", \"_INBOX.>\"] }") != std::string::npos);
  CHECK(out.find("anonymously") == std::string::npos);
  CHECK(out.find("operator:") == std::string::npos);
  // No permissions: the host's user has none listed (the upstream account's rights apply).
  const auto open = tls_config(d.path);
  const std::string plain = render::nats_config(open, render::builtin_template(open), "leafnode.conf", "leaf-x");
  CHECK(plain.find("{user: \"host@leaf-agent.local\"}") != std::string::npos);
  // Dev mode has the same block.
  const auto dev = config::load("[local]\nauth = \"tls\"\n[agent]\nmode = \"dev\"\nstate_dir = \"" + d.path + "\"\n", "t", {}, {});
  CHECK(render::nats_config(dev, render::builtin_template(dev), "dev.conf", "leaf-x").find("verify_and_map: true") != std::string::npos);
  // A user template must carry the boundary.
  CHECK(error_of([&] { render::nats_config(c, "listen: \"{{listen}}\"\n", "mine.tmpl", "leaf-x"); })
            .find("template mine.tmpl leaves out the local TLS boundary that local.auth = \"tls\" needs") == 0);
  CHECK(error_of([&] {
          render::nats_config(c, "listen: \"{{listen}}\"\ntls {\n  ca_file: \"{{local_tls_ca}}\"\n  cert_file: \"{{local_tls_cert}}\"\n"
                                 "  verify_and_map: true\n}\n",
                              "mine.tmpl", "leaf-x");
        }).find("(the authorization users)") != std::string::npos);
  // Permissions need an authenticated mode; unknown modes name the three.
  CHECK(error_of([] { config::load("[local]\nauth = \"mtls\"\n[agent]\nmode = \"dev\"\n", "t", {}, {}); })
            .find("\"tls\" (client certificates of a local CA)") != std::string::npos);
}
