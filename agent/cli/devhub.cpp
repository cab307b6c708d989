#include "agent/cli/devhub.hpp"

#include <filesystem>

#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/config/render.hpp"
#include "agent/sources/signer.hpp"
#include "agent/config/templates_builtin.hpp"

namespace leaf::devhub {

namespace {
void write_seed(const std::string& path, const nkeys::KeyPair& kp) {
  SecretString text = kp.seed();
  text += "\n";
  fs::write_atomic(path, text, 0600);
}

std::string toml_string(const std::string& s) { return "\"" + render::escape_nats_string(s) + "\""; }
}  // namespace

Result create(const Options& o) {
  namespace sfs = std::filesystem;
  if (o.dir.empty()) throw usage_error("dev-hub: --dir is required");
  std::error_code ec;
  if (sfs::exists(o.dir, ec) && !sfs::is_empty(o.dir, ec) && !o.force) {
    throw usage_error("dev-hub: " + o.dir + " exists and is not empty; pass --force to overwrite it");
  }
  for (int p : {o.port, o.leaf_port, o.http_port}) {
    if (p <= 0 || p > 65535) throw usage_error("dev-hub: ports must be 1-65535");
  }
  fs::ensure_private_dir(o.dir, 0700);
  const std::string dir = sfs::absolute(o.dir).lexically_normal().string();
  const std::int64_t now = unix_now();

  // Keys and JWTs: operator -> system + lattice accounts -> users.
  const auto op = nkeys::KeyPair::generate(nkeys::KeyType::operator_);
  const auto sys = nkeys::KeyPair::generate(nkeys::KeyType::account);
  const auto lattice = nkeys::KeyPair::generate(nkeys::KeyType::account);
  const auto lattice_signing = nkeys::KeyPair::generate(nkeys::KeyType::account);

  const std::string op_jwt = jwt::sign(jwt::operator_claims({"leaf-agent-dev", sys.public_key()}, op.public_key()), op, now);
  const std::string sys_jwt = jwt::sign(jwt::account_claims({"SYS", sys.public_key(), {}, false}), op, now);
  const std::string lattice_jwt = jwt::sign(
      jwt::account_claims({"LATTICE", lattice.public_key(), {lattice_signing.public_key()}, true}), op, now);

  signer::UserRequest leaf_req{"leaf", "", std::nullopt, true};
  const signer::Minted leaf = signer::mint_user(lattice, leaf_req, now);
  signer::UserRequest client_req{"client", "", std::nullopt, false};
  const signer::Minted client = signer::mint_user(lattice, client_req, now);

  // PKI: a CA, a server certificate for the hub, a client certificate for mutual TLS tests.
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  if (o.host != "0.0.0.0" && o.host != "::") names.push_back(o.host);
  names.insert(names.end(), o.names.begin(), o.names.end());
  const pki::Pem ca = pki::make_ca("leaf-agent dev CA", 365);
  const pki::Pem server = pki::make_cert(ca, "leaf-agent dev hub", names, true, false, 365);
  const pki::Pem leaf_cert = pki::make_cert(ca, "leaf-agent dev leaf", {"leaf"}, false, true, 365);

  fs::write_atomic(dir + "/operator.jwt", op_jwt + "\n", 0644);
  write_seed(dir + "/operator.nk", op);
  write_seed(dir + "/sys.nk", sys);
  fs::write_atomic(dir + "/lattice.jwt", lattice_jwt + "\n", 0644);
  write_seed(dir + "/lattice.nk", lattice);
  write_seed(dir + "/lattice-signing.nk", lattice_signing);
  fs::write_atomic(dir + "/lattice.pub", lattice.public_key() + "\n", 0644);
  fs::write_atomic(dir + "/leaf.creds", leaf.creds, 0600);
  fs::write_atomic(dir + "/client.creds", client.creds, 0600);
  fs::write_atomic(dir + "/ca.pem", ca.cert_pem, 0644);
  fs::write_atomic(dir + "/ca-key.pem", ca.key_pem, 0600);
  fs::write_atomic(dir + "/server.pem", server.cert_pem, 0644);
  fs::write_atomic(dir + "/server-key.pem", server.key_pem, 0600);
  fs::write_atomic(dir + "/leaf-client.pem", leaf_cert.cert_pem, 0644);
  fs::write_atomic(dir + "/leaf-client-key.pem", leaf_cert.key_pem, 0600);

  render::Data accounts{render::Data::type::list};
  for (auto [name, key, token] : {std::tuple{"SYS", &sys, &sys_jwt}, std::tuple{"LATTICE", &lattice, &lattice_jwt}}) {
    render::Data a;
    a.set("name", name);
    a.set("public_key", key->public_key());
    a.set("jwt", *token);
    accounts.push_back(a);
  }
  const std::string host_in_url = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  render::Data d;
  d.set("server_name", "leaf-agent-dev-hub");
  d.set("host", host_in_url);
  d.set("port", std::to_string(o.port));
  d.set("leaf_port", std::to_string(o.leaf_port));
  d.set("http_port", std::to_string(o.http_port));
  d.set("dir", dir);
  d.set("js_domain", o.js_domain);
  d.set("system_account", sys.public_key());
  d.set("accounts", accounts);
  const std::string hub_conf = render::render(templates::kHub, d, "hub.conf (built in)");
  fs::write_atomic(dir + "/hub.conf", hub_conf, 0644);

  // An agent configuration for this hub, so `leaf-agent run -c DIR/agent.toml` just works.
  const std::string connect_host = (o.host == "0.0.0.0" || o.host == "::") ? "127.0.0.1" : host_in_url;
  const std::string agent_toml =
      "# leaf-agent configuration for the dev hub in this directory (written by dev-hub).\n"
      "[upstream]\n"
      "urls = [" + toml_string("tls://" + connect_host + ":" + std::to_string(o.leaf_port)) + "]\n"
      "ca_file = " + toml_string(dir + "/ca.pem") + "\n"
      "account = " + toml_string(lattice.public_key()) + "\n"
      "jetstream_domain = " + toml_string(o.js_domain) + "\n\n"
      "[credentials]\n"
      "source = \"file\"\n"
      "file = " + toml_string(dir + "/leaf.creds") + "\n\n"
      "[agent]\n"
      "state_dir = " + toml_string(dir + "/leaf-state") + "\n";
  fs::write_atomic(dir + "/agent.toml", agent_toml, 0644);

  return Result{lattice.public_key(), sys.public_key(), dir + "/leaf.creds", dir + "/hub.conf", dir + "/agent.toml"};
}

}  // namespace leaf::devhub
