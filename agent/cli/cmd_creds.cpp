// `creds inspect` and `creds mint-user`.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>

#include "agent/cli/commands.hpp"
#include "agent/core/creds.hpp"
#include "agent/core/duration.hpp"
#include "agent/io/fs.hpp"
#include "agent/core/inspect.hpp"
#include "agent/sources/signer.hpp"

namespace leaf::cmd {

namespace {
int g_exit_code = 0;

SecretString read_input(const std::string& path) {
  if (path != "-") return fs::read_secret_file(path, Exit::usage);
  SecretString text;
  text.reserve(4096);
  std::istreambuf_iterator<char> it(std::cin), end;
  text.assign(it, end);
  return text;
}

}  // namespace

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

struct MintUserOptions {
  std::string account_seed_file;
  signer::UserRequest req;
  std::string ttl;
  std::string out;
};

void add_creds(CLI::App& app) {
  CLI::App* creds = app.add_subcommand("creds", "Inspect and mint NATS user credentials");
  creds->require_subcommand(1);

  // ---- inspect ----
  auto input = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* inspect_cmd = creds->add_subcommand(
      "inspect",
      "Decode and validate a .creds file or a bare JWT (operator, account or user).\n"
      "Exit 0 if valid, 1 if invalid (reason on stderr), 2 on usage errors. Never prints the seed.");
  inspect_cmd->add_option("file", *input, "path to a .creds file or JWT, or - for stdin")->required();
  inspect_cmd->add_flag("--json", *as_json, "machine-readable output");
  inspect_cmd->callback([input, as_json] {
    const SecretString text = read_input(*input);
    const inspect::Report r = inspect::inspect(text, unix_now());
    if (*as_json) {
      std::cout << inspect::to_json(r).dump(2) << "\n";
    } else {
      std::cout << inspect::to_text(r);
    }
    if (!r.valid) {
      std::fprintf(stderr, "leaf-agent: invalid: %s\n", r.error.c_str());
      set_exit_code(static_cast<int>(Exit::failure));
    }
  });

  // ---- mint-user ----
  auto o = std::make_shared<MintUserOptions>();
  CLI::App* mint = creds->add_subcommand(
      "mint-user",
      "Create a user key pair and a user JWT signed by an account (signing) key; write a .creds file (0600).");
  mint->add_option("--account-seed", o->account_seed_file, "file holding the account or account signing key seed (SA...)")
      ->required();
  mint->add_option("--account", o->req.account,
                   "account public key (A...) when --account-seed is a signing key; sets issuer_account");
  mint->add_option("--name", o->req.name, "user name in the JWT")->capture_default_str();
  mint->add_option("--ttl", o->ttl, "lifetime, e.g. 90s, 15m, 1h, 7d (default: no expiry)");
  mint->add_flag("--leaf-only", o->req.leaf_only, "allow only leaf node connections (allowed_connection_types: LEAFNODE)");
  mint->add_option("--out", o->out, "write here (mode 0600) instead of stdout");
  mint->callback([o] {
    if (!o->ttl.empty()) {
      auto ttl = parse_duration(o->ttl);
      if (!ttl || ttl->count() < 1000) throw usage_error("--ttl: want a duration like 90s, 15m, 1h, 7d");
      o->req.ttl_seconds = std::chrono::duration_cast<Seconds>(*ttl).count();
    }
    if (!o->req.account.empty() && !nkeys::is_public_key(o->req.account, nkeys::KeyType::account)) {
      throw usage_error("--account must be an account public key (A..., 56 characters)");
    }
    const nkeys::KeyPair signer = signer::load_account_key(o->account_seed_file);
    const signer::Minted m = signer::mint_user(signer, o->req, unix_now());
    const SecretString& text = m.creds;
    const std::string& subject = m.subject;
    if (o->out.empty()) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    } else {
      fs::write_atomic(o->out, text, 0600);
      std::fprintf(stderr, "leaf-agent: wrote user %s to %s\n", subject.c_str(), o->out.c_str());
    }
  });
}

}  // namespace leaf::cmd
