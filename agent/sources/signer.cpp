#include "agent/sources/signer.hpp"

#include "agent/core/creds.hpp"
#include "agent/core/error.hpp"
#include "agent/io/fs.hpp"

namespace leaf::signer {

nkeys::KeyPair load_account_key(const std::string& path) {
  const SecretString text = fs::read_secret_file(path, Exit::credentials);
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == SecretString::npos) nl = text.size();
    std::string_view l(text.data() + pos, nl - pos);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.back()))) l.remove_suffix(1);
    while (!l.empty() && std::isspace(static_cast<unsigned char>(l.front()))) l.remove_prefix(1);
    if (!l.empty() && l[0] == 'S') {
      nkeys::KeyPair kp = nkeys::KeyPair::from_seed(l);
      if (kp.type() != nkeys::KeyType::account) {
        throw creds_error(path + " holds a " + std::string(nkeys::type_name(kp.type())) +
                          " seed; an account seed (SA...) is needed to sign users");
      }
      return kp;
    }
    pos = nl + 1;
  }
  throw creds_error(path + ": no seed found (want an account seed, SA...)");
}

Minted mint_user(const nkeys::KeyPair& signer, const UserRequest& req, std::int64_t now) {
  if (signer.type() != nkeys::KeyType::account) throw creds_error("users are signed by an account key");
  jwt::UserSpec spec;
  spec.name = req.name;
  if (!req.account.empty()) {
    if (!nkeys::is_public_key(req.account, nkeys::KeyType::account)) {
      throw creds_error("account must be an account public key (A..., 56 characters)");
    }
    if (req.account != signer.public_key()) spec.issuer_account = req.account;
  }
  if (req.ttl_seconds) spec.expires = now + *req.ttl_seconds;
  if (req.leaf_only) spec.allowed_connection_types = {"LEAFNODE"};
  const nkeys::KeyPair user = nkeys::KeyPair::generate(nkeys::KeyType::user);
  spec.subject = user.public_key();
  const std::string jwt = jwt::sign(jwt::user_claims(spec), signer, now);
  return Minted{creds::format(jwt, user.seed()), user.public_key(), spec.expires};
}

}  // namespace leaf::signer
