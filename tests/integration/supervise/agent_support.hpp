// A leaf-agent under test against a dev hub: its own state dir, free ports, a config file.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "agent/core/creds.hpp"
#include "support/harness.hpp"
#include "support/https_server.hpp"

namespace harness {

// The seed of a .creds file, to check that it never appears where it must not.
inline std::string seed_of_file(const std::string& path) {
  const auto c = leaf::creds::parse(read_file(path));
  return std::string(c.seed.begin(), c.seed.end());
}

// A responder that sends each request's payload back.
inline void on_msg_echo(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsConnection_Publish(nc, natsMsg_GetReply(msg), natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  natsMsg_Destroy(msg);
}

struct AgentSetup {
  Hub& hub;
  TempDir dir;
  int listen = free_port();
  int monitor = free_port();
  int health = free_port();
  // Extra or replaced "section" -> lines; rendered into agent.toml by write_config().
  std::map<std::string, std::map<std::string, std::string>> toml;

  explicit AgentSetup(Hub& h) : hub(h) {
    toml["upstream"]["urls"] = "[\"" + hub.leaf_url() + "\"]";
    toml["upstream"]["ca_file"] = quote(hub.file("hub/ca.pem"));
    toml["upstream"]["account"] = quote(hub.lattice_account());
    toml["upstream"]["jetstream_domain"] = "\"hub\"";
    toml["credentials"]["source"] = "\"file\"";
    toml["credentials"]["file"] = quote(hub.file("hub/leaf.creds"));
    toml["local"]["listen"] = quote("127.0.0.1:" + std::to_string(listen));
    toml["local"]["monitor"] = quote("127.0.0.1:" + std::to_string(monitor));
    toml["agent"]["state_dir"] = quote(dir / "state");
    toml["agent"]["health_listen"] = quote("127.0.0.1:" + std::to_string(health));
    toml["agent"]["ready_timeout"] = "\"20s\"";
  }

  static std::string quote(const std::string& s) { return "\"" + s + "\""; }

  std::string write_config() {
    std::string text;
    for (const auto& [section, keys] : toml) {
      text += "[" + section + "]\n";
      for (const auto& [k, v] : keys) text += k + " = " + v + "\n";
    }
    write_file(config_path(), text, 0644);
    return config_path();
  }
  // Credentials of another dev hub's account, which this hub does not trust (it refuses them).
  void use_untrusted_creds(const TempDir& other) {
    if (agent({"dev-hub", "--dir", other / "hub"}).code != 0) throw std::runtime_error("dev-hub failed");
    toml["upstream"].erase("account");
    toml["credentials"]["file"] = quote(other / "hub/leaf.creds");
  }

  // Credentials minted by the signer source from the hub's lattice signing key, living `ttl`.
  void use_signer_source(const std::string& ttl) {
    toml["credentials"] = {{"source", "\"signer\""},
                           {"account_seed_file", quote(hub.file("hub/lattice-signing.nk"))},
                           {"account", quote(hub.lattice_account())},
                           {"ttl", quote(ttl)}};
  }
  // Credentials from the http source at `e` (start() with no_proxy() as its environment).
  void use_http_source(const CredsEndpoint& e) {
    toml["credentials"] = {{"source", "\"http\""}, {"url", quote(e.url())}, {"http_ca_file", quote(e.ca_file())}};
  }
  static std::map<std::string, std::string> no_proxy() { return {{"no_proxy", "127.0.0.1"}, {"NO_PROXY", "127.0.0.1"}}; }

  std::string config_path() const { return dir / "agent.toml"; }
  std::string state(const std::string& name) const { return dir / ("state/" + name); }

  std::unique_ptr<Process> start(std::vector<std::string> host = {}, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {agent_bin(), "run", "-c", write_config()};
    if (!host.empty()) {
      argv.push_back("--");
      argv.insert(argv.end(), host.begin(), host.end());
    }
    return std::make_unique<Process>(argv, env);
  }

  std::string health_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(health) + path;
  }
  bool ready() const { return http_get(health_url("/readyz")).status == 200; }
  // /status as JSON; an empty object while the agent is not answering yet.
  nlohmann::json status() const {
    auto j = nlohmann::json::parse(http_get(health_url("/status")).body, nullptr, false);
    return j.is_object() ? j : nlohmann::json::object();
  }
  std::string local_url() const { return "nats://127.0.0.1:" + std::to_string(listen); }
};

}  // namespace harness
