#include "agent/core/creds.hpp"

#include <algorithm>
#include <vector>

#include "agent/core/error.hpp"
#include "agent/core/nkeys.hpp"

namespace leaf::creds {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool is_dash_line(std::string_view l) {
  return l.size() >= 6 && l.substr(0, 3) == "---" && l.substr(l.size() - 3) == "---";
}

// The one token inside each "-----BEGIN ...<marker>...-----" block, up to its END line. A block
// must hold exactly one non-empty line and end; a second block of the same kind is refused:
// nats-server would take the first two blocks in file order, whatever their names say.
std::string_view block(const std::vector<std::string_view>& lines, std::string_view marker, const char* what) {
  std::string_view found;
  bool seen = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    if (!is_dash_line(l) || l.find("BEGIN") == std::string_view::npos || l.find(marker) == std::string_view::npos) continue;
    if (seen) throw creds_error(std::string("two ") + what + " blocks; a .creds file holds one JWT and one seed");
    seen = true;
    std::string_view token;
    size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      if (is_dash_line(lines[j])) break;
      if (lines[j].empty()) continue;
      if (!token.empty()) throw creds_error(std::string("the ") + what + " block holds more than one line; want one token");
      token = lines[j];
    }
    if (j == lines.size() || lines[j].find("END") == std::string_view::npos) {
      throw creds_error(std::string("the ") + what + " block has no END line");
    }
    if (token.empty()) throw creds_error(std::string("the ") + what + " block is empty");
    found = token;
    i = j;
  }
  return found;
}

}  // namespace

Creds parse(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // a UTF-8 BOM from an editor
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(trim(text.substr(pos, nl - pos)));  // trim drops a CR too
    pos = nl + 1;
  }
  Creds c;
  const std::string_view jwt = block(lines, "JWT", "JWT");
  const std::string_view seed = block(lines, "SEED", "seed");
  if (jwt.empty()) {
    // A bare JWT: one token, nothing else.
    const std::string_view t = trim(text);
    if (seed.empty() && !t.empty() && t.find_first_of(" \t\r\n") == std::string_view::npos &&
        std::count(t.begin(), t.end(), '.') == 2) {
      c.jwt = std::string(t);
      return c;
    }
    throw creds_error("no JWT found (want a .creds file with a BEGIN NATS USER JWT block, or a JWT)");
  }
  if (jwt.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=") !=
      std::string_view::npos) {
    throw creds_error("the JWT block holds characters that are not base64url; want one JWT line");
  }
  c.jwt = std::string(jwt);
  c.seed.assign(seed.begin(), seed.end());
  return c;
}

SecretString format(std::string_view jwt, std::string_view seed) {
  SecretString out;
  out.reserve(jwt.size() + seed.size() + 400);
  out += "-----BEGIN NATS USER JWT-----\n";
  out += jwt;
  out += "\n------END NATS USER JWT------\n\n"
         "************************* IMPORTANT *************************\n"
         "NKEY Seed printed below can be used to sign and prove identity.\n"
         "NKEYs are sensitive and should be treated as secrets.\n\n"
         "-----BEGIN USER NKEY SEED-----\n";
  out += seed;
  out += "\n------END USER NKEY SEED------\n\n"
         "*************************************************************\n";
  return out;
}

Checked validate(const Creds& c, std::int64_t now) {
  if (c.seed.empty()) throw creds_error("no seed found (want a USER NKEY SEED block)");
  jwt::Token token = jwt::decode(c.jwt);
  if (token.type() != "user") {
    throw creds_error("JWT is an " + token.type() + " JWT; leaf credentials need a user JWT");
  }
  const nkeys::KeyPair pair = nkeys::KeyPair::from_seed(c.seed);
  if (pair.type() != nkeys::KeyType::user) {
    throw creds_error(std::string("seed is an ") + nkeys::type_name(pair.type()) +
                      " seed; leaf credentials need a user seed (SU...)");
  }
  if (pair.public_key() != token.subject()) {
    throw creds_error("seed does not belong to this JWT (seed key " + pair.public_key() +
                      ", JWT subject " + token.subject() + ")");
  }
  jwt::validate(token, now);
  Checked out{std::move(token), pair.public_key(), {}};
  out.account = out.token.account();
  return out;
}

}  // namespace leaf::creds
