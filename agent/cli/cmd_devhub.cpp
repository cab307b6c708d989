// `dev-hub`: write a development hub (operator, accounts, users, CA, hub.conf).
#include <cstdio>

#include "agent/cli/commands.hpp"
#include "agent/cli/devhub.hpp"

namespace leaf::cmd {

void add_dev_hub(CLI::App& app) {
  auto o = std::make_shared<devhub::Options>();
  CLI::App* c = app.add_subcommand(
      "dev-hub",
      "Create a development hub in DIR: operator, system and lattice accounts, leaf.creds (LEAFNODE only),\n"
      "client.creds, a CA and server certificate, hub.conf (operator mode, TLS) and agent.toml.\n"
      "Start it with: nats-server -c DIR/hub.conf");
  c->add_option("--dir", o->dir, "directory to create (0700)")->required();
  c->add_option("--host", o->host, "address the hub listens on")->capture_default_str();
  c->add_option("--name", o->names, "extra host name or IP for the server certificate (repeatable)");
  c->add_option("--port", o->port, "client port (TLS)")->capture_default_str();
  c->add_option("--leaf-port", o->leaf_port, "leaf node port (TLS)")->capture_default_str();
  c->add_option("--http-port", o->http_port, "monitoring port")->capture_default_str();
  c->add_option("--js-domain", o->js_domain, "JetStream domain of the hub")->capture_default_str();
  c->add_flag("--force", o->force, "overwrite an existing directory");
  c->callback([o] {
    const devhub::Result r = devhub::create(*o);
    std::printf("dev hub written to %s\n"
                "  lattice account: %s\n"
                "  leaf creds:      %s\n"
                "  start it:        nats-server -c %s\n"
                "  then the agent:  leaf-agent run -c %s\n",
                o->dir.c_str(), r.lattice_account.c_str(), r.leaf_creds.c_str(), r.hub_conf.c_str(),
                r.agent_toml.c_str());
  });
}

}  // namespace leaf::cmd
