#include "agent/config/config.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <sstream>
#include <toml++/toml.h>

#include "agent/core/duration.hpp"
#include "agent/core/error.hpp"
#include "agent/core/nkeys.hpp"
#include "agent/core/text.hpp"
#include "agent/config/nats_version.hpp"
#include "agent/config/upstream_url.hpp"

namespace leaf::config {

namespace {

enum class Kind { string, boolean, list, integer };  // integer: kept as its decimal text

// One configuration key: where it lives and how to reach its field.
struct Field {
  const char* section;
  const char* key;
  Kind kind;
  bool secret_bearing;  // its value may name or carry a secret: elided by to_json
  std::function<std::string*(Config&)> str;
  std::function<bool*(Config&)> flag;
  std::function<std::vector<std::string>*(Config&)> list;
  std::string name() const { return std::string(section) + "." + key; }
};

#define STR(sec, k, field) Field{sec, k, Kind::string, false, [](Config& c) { return &c.field; }, nullptr, nullptr}
#define SECRET_STR(sec, k, field) Field{sec, k, Kind::string, true, [](Config& c) { return &c.field; }, nullptr, nullptr}
#define BOOL(sec, k, field) Field{sec, k, Kind::boolean, false, nullptr, [](Config& c) { return &c.field; }, nullptr}
#define INT(sec, k, field) Field{sec, k, Kind::integer, false, [](Config& c) { return &c.field; }, nullptr, nullptr}
#define LIST(sec, k, field) Field{sec, k, Kind::list, false, nullptr, nullptr, [](Config& c) { return &c.field; }}

const std::vector<Field>& fields() {
  static const std::vector<Field> all = {
      LIST("upstream", "urls", upstream.urls),
      STR("upstream", "ca_file", upstream.ca_file),
      STR("upstream", "cert_file", upstream.cert_file),
      STR("upstream", "key_file", upstream.key_file),
      STR("upstream", "server_name", upstream.server_name),
      STR("upstream", "account", upstream.account),
      BOOL("upstream", "handshake_first", upstream.handshake_first),
      STR("upstream", "jetstream_domain", upstream.jetstream_domain),
      STR("upstream", "ping_interval", upstream.ping_interval),
      INT("upstream", "ping_max", upstream.ping_max),
      STR("upstream", "compression", upstream.compression),
      STR("upstream", "first_info_timeout", upstream.first_info_timeout),
      STR("upstream", "dial_timeout", upstream.dial_timeout),
      STR("upstream", "reconnect", upstream.reconnect),
      STR("credentials", "source", credentials.source),
      STR("credentials", "file", credentials.file),
      STR("credentials", "jwt_env", credentials.jwt_env),
      STR("credentials", "seed_env", credentials.seed_env),
      STR("credentials", "creds_env", credentials.creds_env),
      SECRET_STR("credentials", "url", credentials.url),  // may carry a token in its query
      STR("credentials", "json_pointer", credentials.json_pointer),
      STR("credentials", "token_file", credentials.token_file),
      STR("credentials", "http_ca_file", credentials.http_ca_file),
      STR("credentials", "http_cert_file", credentials.http_cert_file),
      STR("credentials", "http_key_file", credentials.http_key_file),
      STR("credentials", "account_seed_file", credentials.account_seed_file),
      STR("credentials", "account", credentials.account),
      STR("credentials", "ttl", credentials.ttl),
      STR("credentials", "min_lifetime", credentials.min_lifetime),
      STR("credentials", "refresh_at", credentials.refresh_at),
      STR("credentials", "rotate", credentials.rotate),
      STR("local", "listen", local.listen),
      STR("local", "monitor", local.monitor),
      STR("local", "auth", local.auth),
      LIST("local", "host_pub_allow", local.host_pub_allow),
      LIST("local", "host_pub_deny", local.host_pub_deny),
      LIST("local", "host_sub_allow", local.host_sub_allow),
      LIST("local", "host_sub_deny", local.host_sub_deny),
      STR("agent", "mode", agent.mode),
      STR("agent", "state_dir", agent.state_dir),
      STR("agent", "nats_server", agent.nats_server),
      STR("agent", "nats_version", agent.nats_version),
      STR("agent", "server_name", agent.server_name),
      STR("agent", "template", agent.template_path),
      STR("agent", "health_listen", agent.health_listen),
      STR("agent", "ready_timeout", agent.ready_timeout),
      STR("agent", "stop_timeout", agent.stop_timeout),
      STR("agent", "leaf_down_restart", agent.leaf_down_restart),
      STR("agent", "log_format", agent.log_format),
      STR("agent", "log_level", agent.log_level),
  };
  return all;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string nearest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(name, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

const Field* find_field(const std::string& section, const std::string& key) {
  for (const auto& f : fields()) {
    if (section == f.section && key == f.key) return &f;
  }
  return nullptr;
}

[[noreturn]] void unknown_key(const std::string& name, const std::string& where) {
  throw config_error(where + ": unknown key " + name + " (did you mean " + nearest(name, key_names()) + "?)");
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

void set_from_text(Config& c, const Field& f, const std::string& text, const std::string& where) {
  // TOML is UTF-8 by definition; the environment and flags are whatever bytes they are (found by
  // fuzzing: `config` then failed to print its JSON, exit 70).
  if (!text::valid_utf8(text)) throw config_error(where + ": the value is not valid UTF-8; fix its encoding");
  switch (f.kind) {
    case Kind::string:
    case Kind::integer: *f.str(c) = text; break;
    case Kind::list: *f.list(c) = split_list(text); break;
    case Kind::boolean:
      if (text == "true" || text == "1" || text == "yes") *f.flag(c) = true;
      else if (text == "false" || text == "0" || text == "no" || text.empty()) *f.flag(c) = false;
      else throw config_error(where + ": " + f.name() + " must be true or false, not \"" + text + "\"");
      break;
  }
}

void set_from_toml(Config& c, const Field& f, const toml::node& node, const std::string& where) {
  const std::string at = where + ":" + std::to_string(node.source().begin.line);
  switch (f.kind) {
    case Kind::string:
      if (!node.is_string()) throw config_error(at + ": " + f.name() + " must be a string");
      *f.str(c) = *node.value<std::string>();
      break;
    case Kind::integer:
      if (!node.is_integer()) throw config_error(at + ": " + f.name() + " must be an integer");
      *f.str(c) = std::to_string(*node.value<std::int64_t>());
      break;
    case Kind::boolean:
      if (!node.is_boolean()) throw config_error(at + ": " + f.name() + " must be true or false");
      *f.flag(c) = *node.value<bool>();
      break;
    case Kind::list: {
      auto& out = *f.list(c);
      out.clear();
      if (node.is_string()) {  // a single URL is a list of one
        out.push_back(*node.value<std::string>());
        break;
      }
      const toml::array* arr = node.as_array();
      if (!arr) throw config_error(at + ": " + f.name() + " must be a list of strings");
      for (const auto& item : *arr) {
        if (!item.is_string()) throw config_error(at + ": " + f.name() + " must be a list of strings");
        out.push_back(*item.value<std::string>());
      }
      break;
    }
  }
}

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// A duration key: parses, is more than zero, and at most `max` (a typo like 200000d is refused
// rather than waited out, or overflowed).
std::chrono::milliseconds duration_of(const std::string& text, const char* key, std::chrono::milliseconds max) {
  auto d = parse_duration(text);
  if (!d) {
    throw config_error(std::string(key) + ": \"" + text + "\" is not a duration (e.g. 90s, 15m, 1h; at most " +
                       format_duration(std::chrono::duration_cast<Seconds>(max)) + ")");
  }
  if (d->count() <= 0) throw config_error(std::string(key) + " must be more than 0 (e.g. 60s)");
  if (*d > max) {
    throw config_error(std::string(key) + " = \"" + text + "\" is too long: at most " +
                       format_duration(std::chrono::duration_cast<Seconds>(max)));
  }
  return *d;
}

using namespace std::chrono_literals;
constexpr std::chrono::milliseconds kMaxReadyTimeout = 24h;
constexpr std::chrono::milliseconds kMaxCredsSpan = 24h * 366;

// nats-server names: no whitespace (it refuses them), nothing that needs quoting in messages.
bool valid_server_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (unsigned char ch : n) {
    if (!std::isalnum(ch) && ch != '-' && ch != '_' && ch != '.') return false;
  }
  return true;
}

void require_loopback(const std::string& text, const std::string& what) {
  const HostPort hp = parse_host_port(text, what);
  if (!is_loopback(hp.host)) {
    throw config_error(what + " = \"" + text + "\" is not a loopback address; the leaf listens on localhost only "
                       "(use 127.0.0.1:" + std::to_string(hp.port) + ")");
  }
}

// A NATS subject or wildcard pattern as a permission list holds it: dot-separated non-empty
// tokens, no whitespace, `>` only as the last token.
bool is_subject_pattern(const std::string& s) {
  if (s.empty() || s.find_first_of(" \t\r\n\"") != std::string::npos) return false;
  std::stringstream ss(s);
  std::string token;
  size_t seen = 0, count = static_cast<size_t>(std::count(s.begin(), s.end(), '.')) + 1;
  while (std::getline(ss, token, '.')) {
    ++seen;
    if (token.empty()) return false;
    if (token.find_first_of("*>") != std::string::npos && token.size() > 1) return false;
    if (token == ">" && seen != count) return false;
  }
  return seen == count && s.back() != '.';
}

void validate_local_auth(const Local& l) {
  if (l.auth != "none" && l.auth != "jwt" && l.auth != "tls") {
    throw config_error("local.auth must be \"none\" (anonymous localhost), \"jwt\" (a local trust chain) or \"tls\" "
                       "(client certificates of a local CA), not \"" + l.auth + "\"");
  }
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"local.host_pub_allow", &l.host_pub_allow}, {"local.host_pub_deny", &l.host_pub_deny},
      {"local.host_sub_allow", &l.host_sub_allow}, {"local.host_sub_deny", &l.host_sub_deny}};
  for (const auto& [name, list] : lists) {
    // Permissions without authentication would promise a restriction nobody enforces.
    if (!list->empty() && !l.jwt() && !l.tls()) {
      throw config_error(std::string(name) + " needs local.auth = \"jwt\" or \"tls\": anonymous local clients have no "
                         "permissions to limit");
    }
    for (const auto& subject : *list) {
      if (!is_subject_pattern(subject)) {
        throw config_error(std::string(name) + ": \"" + subject + "\" is not a NATS subject (tokens separated by dots, "
                           "* for one token, > only at the end)");
      }
    }
  }
}

}  // namespace

std::vector<std::string> key_names() {
  std::vector<std::string> out;
  for (const auto& f : fields()) out.push_back(f.name());
  return out;
}

std::vector<std::string> secret_env_vars() {
  std::vector<std::string> out;
  for (const auto& f : fields()) {
    if (f.secret_bearing) out.push_back("LEAF_AGENT_" + upper(f.section) + "_" + upper(f.key));
  }
  return out;
}

void parse(Config& c) {
  Parsed p;
  if (c.agent.mode == "leaf") p.mode = Mode::leaf;
  else if (c.agent.mode == "dev") p.mode = Mode::dev;
  else throw config_error("agent.mode must be \"leaf\" or \"dev\", not \"" + c.agent.mode + "\"");
  const auto& src = c.credentials.source;
  if (src == "file") p.source = Source::file;
  else if (src == "env") p.source = Source::env;
  else if (src == "http") p.source = Source::http;
  else if (src == "signer") p.source = Source::signer;
  else throw config_error("credentials.source must be file, env, http or signer, not \"" + src + "\"");
  if (c.agent.log_format == "text") p.log_format = LogFormat::text;
  else if (c.agent.log_format == "json") p.log_format = LogFormat::json;
  else throw config_error("agent.log_format must be \"text\" or \"json\"");
  p.ready_timeout = duration_of(c.agent.ready_timeout, "agent.ready_timeout", kMaxReadyTimeout);
  p.stop_timeout = duration_of(c.agent.stop_timeout, "agent.stop_timeout", kMaxReadyTimeout);
  p.leaf_down_restart = c.agent.leaf_down_restart == "0"  // never
                            ? std::chrono::milliseconds(0)
                            : duration_of(c.agent.leaf_down_restart, "agent.leaf_down_restart", kMaxReadyTimeout);
  p.ttl = duration_of(c.credentials.ttl, "credentials.ttl", kMaxCredsSpan);
  p.min_lifetime = c.credentials.min_lifetime == "0"  // "any unexpired credentials"
                       ? std::chrono::milliseconds(0)
                       : duration_of(c.credentials.min_lifetime, "credentials.min_lifetime", kMaxCredsSpan);
  c.parsed = p;
}

std::chrono::seconds Config::ping_interval() const {
  const auto d = duration_of(upstream.ping_interval, "upstream.ping_interval", std::chrono::hours(1));
  if (d < std::chrono::seconds(1) || d.count() % 1000 != 0) {
    throw config_error("upstream.ping_interval must be whole seconds, at least 1s (e.g. \"20s\"), not \"" + upstream.ping_interval + "\"");
  }
  return std::chrono::duration_cast<std::chrono::seconds>(d);
}

namespace {
// An optional remote timeout: "" (the server's default) or a duration from 1ms to 10m, written for
// nats-server as Go's duration text.
std::string remote_timeout(const std::string& text, const char* key) {
  if (text.empty()) return "";
  const auto d = parse_duration(text);
  if (!d || d->count() <= 0 || *d > std::chrono::minutes(10)) {
    throw config_error(std::string(key) + " must be a duration from 1ms to 10m (e.g. \"5s\"), not \"" + text + "\"");
  }
  return format_go_duration(*d);
}
}  // namespace

std::string Config::first_info_timeout() const { return remote_timeout(upstream.first_info_timeout, "upstream.first_info_timeout"); }
std::string Config::dial_timeout() const { return remote_timeout(upstream.dial_timeout, "upstream.dial_timeout"); }

std::optional<std::chrono::milliseconds> Config::reconnect() const {
  if (upstream.reconnect.empty()) return std::nullopt;
  const auto d = parse_duration(upstream.reconnect);
  // Under 10 ms the leaf would dial a hub that is away in a tight loop.
  if (!d || *d < std::chrono::milliseconds(10) || *d > std::chrono::minutes(10)) {
    throw config_error("upstream.reconnect must be a duration from 10ms to 10m (e.g. \"100ms\"), or unset for "
                       "nats-server's default of 1s, not \"" + upstream.reconnect + "\"");
  }
  return *d;
}

int Config::ping_max() const {
  const std::string& t = upstream.ping_max;
  char* end = nullptr;
  const long n = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || *end != 0 || n < 1 || n > 100) {
    throw config_error("upstream.ping_max must be an integer from 1 to 100, not \"" + t + "\"");
  }
  return static_cast<int>(n);
}

double Config::refresh_fraction() const {
  const std::string& t = credentials.refresh_at;
  double v = -1;
  char tail[8] = {0};
  double num = 0, den = 0;
  if (std::sscanf(t.c_str(), "%lf/%lf%7s", &num, &den, tail) == 2 && den > 0) {
    v = num / den;
  } else if (std::sscanf(t.c_str(), "%lf%7s", &num, tail) >= 1) {
    if (tail[0] == 0) v = num;
    else if (std::string(tail) == "%") v = num / 100.0;
  }
  if (!(v >= 0.1 && v <= 0.95)) {
    throw config_error("credentials.refresh_at must be a fraction of the credentials' lifetime between 0.1 and 0.95 "
                       "(\"2/3\", \"0.5\" or \"75%\"), not \"" + t + "\"");
  }
  return v;
}

std::string server_name(const Config& c, const std::string& machine_name) {
  if (!c.agent.server_name.empty()) return c.agent.server_name;
  // FNV-1a over what tells two agents on one machine apart: their state_dir and client port.
  std::string d = c.agent.state_dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  std::uint32_t h = 2166136261u;
  for (unsigned char ch : d + "\n" + c.local.listen) h = (h ^ ch) * 16777619u;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "-%08x", h);
  std::string base = machine_name.substr(0, 64 - 9);
  for (auto& ch : base) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '-';
  }
  return base + suffix;
}

std::string HostPort::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HostPort parse_host_port(const std::string& text, const std::string& what) {
  HostPort hp;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw config_error(what + ": \"" + text + "\" is not host:port");
    }
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      throw config_error(what + ": \"" + text + "\" is not host:port (IPv6 goes in brackets: [::1]:4222)");
    }
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) < 1 || std::stoi(port) > 65535) {
    throw config_error(what + ": \"" + text + "\" has no valid port (1-65535)");
  }
  hp.port = std::stoi(port);
  return hp;
}

HostPort parse_listen(const std::string& text, const std::string& what) {
  HostPort hp = parse_host_port(text, what);
  if (hp.host == "localhost") hp.host = "127.0.0.1";
  return hp;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

Config load(const std::string& toml_text, const std::string& file_name, const Environment& env,
            const Overrides& flags, bool probe_only) {
  Config c;
  // 1. the file
  if (!toml_text.empty()) {
    toml::table root;
    try {
      root = toml::parse(toml_text, file_name);
    } catch (const toml::parse_error& e) {
      throw config_error(file_name + ":" + std::to_string(e.source().begin.line) + ": malformed TOML: " +
                         std::string(e.description()));
    }
    for (const auto& [section_key, section_node] : root) {
      const std::string section(section_key.str());
      const toml::table* table = section_node.as_table();
      if (!table) {
        if (find_field("upstream", section) || find_field("credentials", section) ||
            find_field("local", section) || find_field("agent", section)) {
          throw config_error(file_name + ": key " + section + " must be inside a section (e.g. [agent])");
        }
        unknown_key(section, file_name);
      }
      for (const auto& [key, node] : *table) {
        const Field* f = find_field(section, std::string(key.str()));
        if (!f) unknown_key(section + "." + std::string(key.str()), file_name);
        set_from_toml(c, *f, node, file_name);
      }
    }
  }
  // 2. the environment; an unknown LEAF_AGENT_ variable is a typo worth stopping for.
  for (const auto& [name, value] : env) {
    if (name.rfind("LEAF_AGENT_", 0) != 0) continue;
    const Field* match = nullptr;
    for (const auto& f : fields()) {
      if (name == "LEAF_AGENT_" + upper(f.section) + "_" + upper(f.key)) match = &f;
    }
    if (!match) {
      std::vector<std::string> vars;
      for (const auto& f : fields()) vars.push_back("LEAF_AGENT_" + upper(f.section) + "_" + upper(f.key));
      throw config_error("environment: unknown variable " + name + " (did you mean " + nearest(name, vars) + "?)");
    }
    set_from_text(c, *match, value, "environment " + name);
  }
  // 3. flags
  for (const auto& [name, value] : flags) {
    const auto dot = name.find('.');
    const Field* f = find_field(name.substr(0, dot), dot == std::string::npos ? "" : name.substr(dot + 1));
    if (!f) throw internal_error("flag maps to unknown key " + name);
    set_from_text(c, *f, value, "flag for " + name);
  }
  parse(c);
  validate(c, probe_only);
  return c;
}

void validate(const Config& c, bool probe_only) {
  require_loopback(c.local.listen, "local.listen");
  require_loopback(c.local.monitor, "local.monitor");
  if (!c.agent.health_listen.empty()) require_loopback(c.agent.health_listen, "agent.health_listen");
  (void)c.ready_timeout();
  if (c.stop_timeout().count() <= 0) throw config_error("agent.stop_timeout must be more than 0 (e.g. \"10s\")");
  (void)c.leaf_down_restart();
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(levels), std::end(levels), c.agent.log_level) == std::end(levels)) {
    throw config_error("agent.log_level must be one of trace, debug, info, warn, error");
  }
  if (c.agent.state_dir.empty()) throw config_error("agent.state_dir must not be empty");
  // nats-server runs os.ExpandEnv and ~ expansion on the remote's credentials path (opts.go
  // expandPath), which lives in state_dir: "$HOME/x" would pass -t and fail at connect time.
  if (c.agent.state_dir.find('$') != std::string::npos) {
    throw config_error("agent.state_dir \"" + c.agent.state_dir + "\" contains '$', which nats-server expands as an "
                       "environment variable in the credentials path; choose a path without '$'");
  }
  if (c.agent.state_dir[0] == '~') {
    throw config_error("agent.state_dir \"" + c.agent.state_dir + "\" starts with '~'; give an absolute path");
  }
  for (unsigned char ch : c.agent.state_dir) {
    if (ch < 0x20 || ch == 0x7f) throw config_error("agent.state_dir contains a control character; remove it");
  }
  if (!c.agent.nats_version.empty() && !nats_version::parse(c.agent.nats_version)) {
    throw config_error("agent.nats_version must be a nats-server release like \"2.10.27\", not \"" + c.agent.nats_version + "\"");
  }
  if (!c.agent.server_name.empty() && !valid_server_name(c.agent.server_name)) {
    throw config_error("agent.server_name \"" + c.agent.server_name + "\" must be 1-64 letters, digits, '-', '_' or '.'");
  }
  validate_local_auth(c.local);
  if (c.dev() || probe_only) return;  // no upstream, no credentials to check

  if (c.upstream.urls.empty()) {
    throw config_error("upstream.urls is required (e.g. [\"tls://hub:7422\"]), or run with --dev for laptop mode");
  }
  if (c.upstream.urls.size() > kMaxUpstreamUrls) {
    throw config_error("upstream.urls has " + std::to_string(c.upstream.urls.size()) + " URLs, more than " +
                       std::to_string(kMaxUpstreamUrls) + "; list only the hub's own addresses");
  }
  for (const auto& url : c.upstream.urls) parse_upstream_url(url);
  if (!c.upstream.server_name.empty()) {
    throw config_error("upstream.server_name is not supported: nats-server has no such option for a leaf remote and "
                       "would verify the URL's host anyway; remove it and put the hub's DNS name in the URL "
                       "(tls://hub.example.com:7422), mapped to its IP in /etc/hosts if need be");
  }
  if (c.upstream.cert_file.empty() != c.upstream.key_file.empty()) {
    throw config_error("upstream.cert_file and upstream.key_file go together: set both or neither");
  }
  if (!c.upstream.account.empty() && !nkeys::is_public_key(c.upstream.account, nkeys::KeyType::account)) {
    throw config_error("upstream.account must be an account public key (A..., 56 characters)");
  }
  if (c.upstream.jetstream_domain.find_first_of(" \t\r\n.*>\"") != std::string::npos) {
    throw config_error("upstream.jetstream_domain must be a single token without spaces, dots or wildcards");
  }
  const auto& cr = c.credentials;
  const auto min_life = c.min_lifetime();
  (void)c.refresh_fraction();
  (void)c.ping_interval();
  (void)c.ping_max();
  static const char* compression_modes[] = {"off", "accept", "s2_auto", "s2_fast", "s2_better", "s2_best"};
  if (!c.upstream.compression.empty() &&
      std::find(std::begin(compression_modes), std::end(compression_modes), c.upstream.compression) ==
          std::end(compression_modes)) {
    throw config_error("upstream.compression must be one of off, accept, s2_auto, s2_fast, s2_better, s2_best (or "
                       "unset for the server's default), not \"" + c.upstream.compression + "\"");
  }
  (void)c.first_info_timeout();
  (void)c.dial_timeout();
  (void)c.reconnect();
  if (c.credentials.rotate != "auto" && c.credentials.rotate != "toggle" && c.credentials.rotate != "expiry") {
    throw config_error("credentials.rotate must be \"auto\" (move the leaf by config reload where nats-server can), "
                       "\"toggle\" (by disabling and enabling its remote, nats-server 2.12+) or \"expiry\" (when the hub "
                       "expires the old credentials), not \"" + c.credentials.rotate + "\"");
  }
  if (c.source() == Source::file) {
    if (cr.file.empty()) throw config_error("credentials.file is required when credentials.source = \"file\"");
  } else if (c.source() == Source::env) {
    if (cr.creds_env.empty() && (cr.jwt_env.empty() || cr.seed_env.empty())) {
      throw config_error("credentials.source = \"env\" needs credentials.creds_env, or jwt_env and seed_env");
    }
  } else if (c.source() == Source::http) {
    if (cr.url.rfind("https://", 0) != 0) throw config_error("credentials.url must be an https:// URL");
    if (cr.url.find('@') != std::string::npos && cr.url.find('@') < cr.url.find('/', 8)) {
      throw config_error("credentials.url must not carry a user or password; use credentials.token_file");
    }
    if (!cr.json_pointer.empty() && cr.json_pointer[0] != '/') {
      throw config_error("credentials.json_pointer must start with / (e.g. /data/data/creds)");
    }
    if (cr.http_cert_file.empty() != cr.http_key_file.empty()) {
      throw config_error("credentials.http_cert_file and credentials.http_key_file go together");
    }
  } else if (c.source() == Source::signer) {
    if (cr.account_seed_file.empty()) {
      throw config_error("credentials.account_seed_file is required when credentials.source = \"signer\"");
    }
    if (c.ttl() <= min_life) {
      throw config_error("credentials.ttl (" + cr.ttl + ") must exceed credentials.min_lifetime (" + cr.min_lifetime + ")");
    }
    if (!cr.account.empty() && !nkeys::is_public_key(cr.account, nkeys::KeyType::account)) {
      throw config_error("credentials.account must be an account public key (A..., 56 characters)");
    }
  }  // parse() has refused any other source
}

nlohmann::json to_json(const Config& c) {
  nlohmann::json out = nlohmann::json::object();
  Config copy = c;
  for (const auto& f : fields()) {
    nlohmann::json& slot = out[f.section][f.key];
    switch (f.kind) {
      case Kind::string: {
        const std::string& v = *f.str(copy);
        slot = (f.secret_bearing && !v.empty()) ? std::string("(set, not shown)") : v;
        break;
      }
      case Kind::boolean: slot = *f.flag(copy); break;
      case Kind::list: slot = *f.list(copy); break;
      case Kind::integer: {
        const std::string& v = *f.str(copy);
        char* end = nullptr;
        const long long n = std::strtoll(v.c_str(), &end, 10);
        slot = (!v.empty() && *end == 0) ? nlohmann::json(n) : nlohmann::json(v);
        break;
      }
    }
  }
  return out;
}

}  // namespace leaf::config
