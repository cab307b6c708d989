// Reading back a rendered nats-server configuration, to hold any template (built in or the
// user's agent.template) to the agent's promise: the leaf listens on loopback only, and it has no
// cluster, gateway, websocket, MQTT, profiling or leaf node listener. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace leaf::config {

// The NATS configuration syntax (nats-server 2.9.10 conf/lex.go), as far as needed to judge it:
// maps, arrays, quoted and unquoted strings, variable references, comments. `include` is refused
// (what it pulls in cannot be checked); so is anything this reader does not understand.
struct ConfNode {
  enum class Kind { map, array, string, variable, block };
  Kind kind = Kind::string;
  std::string text;                                     // string, variable (without '$'), block
  std::vector<std::string> keys;                        // map: keys as written, in order
  std::vector<ConfNode> values;                         // map: the value of keys[i]
  std::vector<ConfNode> items;                          // array
  int line = 0;
};

// Parses a whole configuration (the top level is a map without braces). Throws
// Error(Exit::config) "line N: <reason>".
ConfNode parse_nats_conf(std::string_view text);

// Throws Error(Exit::config) naming `template_name`, the key and the fix when `rendered` would make
// nats-server listen anywhere but loopback or open a listener the leaf must not have.
void check_local_only(std::string_view rendered, const std::string& template_name);

}  // namespace leaf::config
