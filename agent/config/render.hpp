// Logic-less templates (mustache, kainjow's) for nats-server configs. Every {{value}} is
// escaped for a double-quoted NATS config string, so no value can add or close a block.
#pragma once

#include <kainjow/mustache.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leaf::render {

using Data = kainjow::mustache::data;

// Escapes `value` for use between double quotes in a NATS config file: backslash and quote are
// escaped; control characters (newline included) are refused with Error(Exit::config).
std::string escape_nats_string(std::string_view value);

// Refuses (Error(Exit::config), naming the line) tags that would bypass the escaping:
// {{{name}}}, {{&name}} and a delimiter change {{=<% %>=}}.
void check_tags(std::string_view tmpl, const std::string& template_name);

// `tmpl` with each line that holds no tag replaced by one unescaped variable ({{{key}}}) whose
// value, in `lines`, is that line's text: it renders the same, and parses far faster (see
// render.cpp). Only for a template that passed check_tags.
struct CollapsedTemplate {
  std::string text;
  std::vector<std::pair<std::string, std::string>> lines;  // key, the line's text
};
CollapsedTemplate collapse_plain_lines(std::string_view tmpl);

// Renders `tmpl` with `data` (after check_tags). A template that does not parse is
// Error(Exit::config) naming `template_name` and the parser's reason.
std::string render(std::string_view tmpl, const Data& data, const std::string& template_name);

}  // namespace leaf::render

#include <optional>

#include "agent/config/config.hpp"
#include "agent/config/nats_version.hpp"

namespace leaf::local_boundary {
struct Chain;
}

namespace leaf::render {

// Where the agent keeps its files: all under agent.state_dir (0700).
struct Layout {
  std::string dir;
  std::string nats_conf;   // nats.conf
  std::string creds;       // upstream.creds (0600)
  std::string creds_alt;   // upstream.alt.creds: the other slot, for a rotation by config reload
  std::string ready;       // ready: exists while the leaf is ready
  std::string jetstream;   // dev mode store
};
Layout layout(const config::Config& c);

// The template the agent uses: agent.template if set (read by the caller), else the built-in one
// for the mode.
const char* builtin_template(const config::Config& c);

// The nats-server configuration for `c`. Pure; holds no secrets (the creds are a file path).
// `machine_name` is the machine-wide base name ("leaf-<hostname>"); the server name written is
// config::server_name(c, machine_name), unique per agent. The result is held to the local-only
// promise (config::check_local_only) whatever the template: Error(Exit::config) otherwise.
// With local.auth = jwt, `local` is the chain to trust (its public JWTs go in the config); when
// null, a throwaway chain is minted so `render` shows the shape. A template that leaves the
// chain out is refused: the leaf would otherwise run open while the agent reports jwt.
// `server`: the nats-server release the config is for. It sets reconnect_duration and nats_version,
// and options that release lacks are refused (nats_version::check_options). Unknown (nullopt): the
// built-in templates need no version unless a gated option is set, which is then refused.
// `creds_file`: the credentials file the remote names ("": the layout's upstream.creds).
// `remote_disabled`: the section of that name is on (the built-in template's remote gets
// `disabled: true`): the first reload of a move by toggle (supervise/rotation.hpp).
std::string nats_config(const config::Config& c, const std::string& tmpl, const std::string& template_name,
                        const std::string& machine_name, const local_boundary::Chain* local = nullptr,
                        const std::optional<nats_version::Version>& server = std::nullopt,
                        const std::string& creds_file = "", bool remote_disabled = false);

}  // namespace leaf::render
