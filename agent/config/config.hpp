// The agent's configuration: one TOML file, every key also settable as LEAF_AGENT_<SECTION>_<KEY>
// and the most used ones as flags. Precedence: flag > env > file > default. Pure: the caller
// reads the file and passes the environment, so tests need no files or process state.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace leaf::config {

struct Upstream {
  std::vector<std::string> urls;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  std::string account;
  bool handshake_first = false;
  std::string jetstream_domain;
  // Pings on the leaf's connections: a silently dead hub is noticed after about
  // ping_interval x ping_max (nats-server's own default is 2m x 2).
  std::string ping_interval = "20s";
  std::string ping_max = "3";  // an integer (TOML integer, or text in env and flags)
  // Remote options of newer nats-server releases (agent/config/nats_version.hpp gates them): ""
  // leaves the server's default. compression: off | accept | s2_auto | s2_fast | s2_better |
  // s2_best (2.10+; two 2.10+ servers negotiate s2_auto by themselves). first_info_timeout
  // (2.10.26+): how long the leaf waits for the hub's first INFO. dial_timeout (2.14.5+): the TCP
  // connect timeout to the hub.
  std::string compression;
  std::string first_info_timeout;
  std::string dial_timeout;
  // leafnodes.reconnect: how long the leaf waits before it dials the hub again after its link
  // closed ("" leaves nats-server's default, 1 s). It is the whole gap of a rotation the hub's
  // expiry ends (2.9 to 2.13), so "100ms" cuts that gap tenfold; the price is a dial that often
  // while the hub is away. 2.9 takes whole seconds only.
  std::string reconnect;
};

struct Credentials {
  std::string source = "file";  // file | env | http | signer
  std::string file = "/var/run/secrets/leaf/leaf.creds";
  std::string jwt_env = "NATS_JWT";
  std::string seed_env = "NATS_SEED";
  std::string creds_env;
  std::string url;
  std::string json_pointer;
  std::string token_file;
  std::string http_ca_file;
  std::string http_cert_file;
  std::string http_key_file;
  std::string account_seed_file;
  std::string account;          // source=signer: the account when the seed is a signing key
  std::string ttl = "1h";
  std::string min_lifetime = "5m";  // refuse credentials that expire sooner than this
  std::string refresh_at = "2/3";   // refresh at this fraction of the lifetime (exp - iat): "2/3", "0.5", "75%"
  // How the leaf moves to refreshed credentials: "auto", the quickest means the running
  // nats-server offers (2.14+: a reload naming the other credentials file; 2.12 and 2.13: two
  // reloads disabling and enabling the remote; before: the hub's expiry of the old ones);
  // "toggle", the two reloads on any 2.12+; "expiry", always the hub's expiry.
  std::string rotate = "auto";
};

struct Local {
  std::string listen = "127.0.0.1:4222";
  std::string monitor = "127.0.0.1:8222";
  // none: anonymous localhost clients (the sidecar default). jwt: a separate local security
  // boundary, a trust chain minted at each start (agent/config/local_boundary.hpp). tls: the
  // client port requires TLS with a client certificate of a local CA made at each start
  // (agent/config/local_tls.hpp; wasmCloud 2.x hosts, which take no JWT).
  std::string auth = "none";
  // local.auth = jwt or tls: the host's local user permissions; empty = no local restriction (the
  // upstream account's own limits still apply at the hub).
  std::vector<std::string> host_pub_allow;
  std::vector<std::string> host_pub_deny;
  std::vector<std::string> host_sub_allow;
  std::vector<std::string> host_sub_deny;
  bool jwt() const { return auth == "jwt"; }
  bool tls() const { return auth == "tls"; }
};

struct Agent {
  std::string mode = "leaf";  // leaf | dev
  std::string state_dir = "/run/leaf-agent";
  std::string nats_server = "nats-server";
  // The nats-server release `init` and `render` write the config for, when that server is not
  // agent.nats_server (the official nats image of a pod): "2.10.27". "" = ask agent.nats_server.
  // `run` writes for the binary it runs, always.
  std::string nats_version;
  std::string server_name;  // "" = server_name(): unique per agent on this machine
  std::string template_path;
  std::string health_listen = "127.0.0.1:8090";
  std::string ready_timeout = "60s";
  std::string stop_timeout = "10s";       // per child (host, then nats-server): SIGTERM, then SIGKILL
  std::string leaf_down_restart = "2m";   // restart nats-server when the leaf stays down this long ("0": never)
  std::string log_format = "text";
  std::string log_level = "info";
};

enum class Mode { leaf, dev };
enum class Source { file, env, http, signer };
enum class LogFormat { text, json };

// What the code acts on, parsed once by load() from the strings above (which stay the
// configuration as written: what `config` prints and messages quote).
struct Parsed {
  Mode mode = Mode::leaf;
  Source source = Source::file;
  LogFormat log_format = LogFormat::text;
  std::chrono::milliseconds ready_timeout{60000}, stop_timeout{10000}, leaf_down_restart{120000}, ttl{3600000},
      min_lifetime{300000};
};

struct Config {
  Upstream upstream;
  Credentials credentials;
  Local local;
  Agent agent;

  Parsed parsed;  // filled by load() / parse(); a hand-built Config calls parse(c) itself

  bool dev() const { return parsed.mode == Mode::dev; }
  Source source() const { return parsed.source; }
  std::chrono::milliseconds ready_timeout() const { return parsed.ready_timeout; }
  std::chrono::milliseconds ttl() const { return parsed.ttl; }
  std::chrono::milliseconds stop_timeout() const { return parsed.stop_timeout; }
  std::chrono::milliseconds leaf_down_restart() const { return parsed.leaf_down_restart; }
  std::chrono::milliseconds min_lifetime() const { return parsed.min_lifetime; }
  double refresh_fraction() const;             // credentials.refresh_at as a number in [0.1, 0.95]
  std::chrono::seconds ping_interval() const;  // upstream.ping_interval: 1s .. 1h, whole seconds
  int ping_max() const;                         // upstream.ping_max: 1 .. 100
  std::string first_info_timeout() const;       // upstream.first_info_timeout as Go duration text, or ""
  std::string dial_timeout() const;             // upstream.dial_timeout as Go duration text, or ""
  std::optional<std::chrono::milliseconds> reconnect() const;  // upstream.reconnect: 10ms .. 10m; nullopt: unset
};

// At most this many upstream URLs: more is a mistake (and each is probed and logged).
constexpr std::size_t kMaxUpstreamUrls = 32;

// The leaf's nats-server name: agent.server_name if set, else `machine_name` (e.g. "leaf-<host>")
// plus "-" and 8 hex digits derived from state_dir and local.listen, so that several agents on one
// machine do not take over each other's connection at the hub. Pure.
std::string server_name(const Config& c, const std::string& machine_name);

// Values set on the command line, by "section.key". Applied last.
using Overrides = std::map<std::string, std::string>;
using Environment = std::map<std::string, std::string>;

// Builds the effective configuration. `toml_text` may be empty (no file). `file_name` is for
// messages. Throws Error(Exit::config) for malformed TOML, unknown keys (naming the nearest valid
// one), wrong types, and invalid values (see validate()).
// `probe_only`: for `health` and `wait`, which need only the agent and local sections and often
// run where the upstream settings are not given (a host container sharing the network).
Config load(const std::string& toml_text, const std::string& file_name, const Environment& env,
            const Overrides& flags, bool probe_only = false);

// Parses the enums and durations into c.parsed, once. Throws Error(Exit::config) naming the key.
void parse(Config& c);

// Semantic checks that need no I/O: URLs are tls:// or wss:// without user info, listeners are
// loopback, the chosen source has what it needs. Reads c.parsed: call after parse(). Throws
// Error(Exit::config).
void validate(const Config& c, bool probe_only = false);

// The effective configuration as JSON, with values that could hold secrets elided.
nlohmann::json to_json(const Config& c);

// Every "section.key" name, for messages and docs.
std::vector<std::string> key_names();

// The LEAF_AGENT_<SECTION>_<KEY> variables of the keys whose value may carry a secret (those
// to_json elides: credentials.url, whose query may hold a token).
std::vector<std::string> secret_env_vars();

// Host and port of a "host:port" / "[v6]:port" listener; throws Error(Exit::config) naming `what`.
struct HostPort {
  std::string host;
  int port = 0;
  std::string str() const;  // "127.0.0.1:4222" / "[::1]:4222"
};
HostPort parse_host_port(const std::string& text, const std::string& what);
bool is_loopback(const std::string& host);
// A local listener as nats-server and our probe server bind it: "localhost" becomes 127.0.0.1,
// so nothing ever binds a name that could resolve to a wildcard.
HostPort parse_listen(const std::string& text, const std::string& what);

}  // namespace leaf::config
