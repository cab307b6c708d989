#include "agent/config/render.hpp"

#include <algorithm>

#include "agent/config/nats_conf.hpp"
#include "agent/core/error.hpp"

namespace leaf::render {

std::string escape_nats_string(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      throw config_error("a configuration value contains a control character (newline or similar); "
                         "remove it: values are written into the nats-server config");
    }
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void check_tags(std::string_view tmpl, const std::string& template_name) {
  // Tags that emit a value unescaped, and a delimiter change (after which the checks above and
  // below would not see the tags): a value could then add or close a block.
  struct Bad {
    const char* tag;
    const char* why;
  };
  static constexpr Bad bad[] = {{"{{{", "{{{ }}} emits a value unescaped; use {{name}}"},
                                {"{{&", "{{& }} emits a value unescaped; use {{name}}"},
                                {"{{=", "{{= }} changes the tag delimiters; keep {{ }}"}};
  for (const auto& b : bad) {
    const auto at = tmpl.find(b.tag);
    if (at == std::string_view::npos) continue;
    const auto line = 1 + std::count(tmpl.begin(), tmpl.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    throw config_error("template " + template_name + ":" + std::to_string(line) + ": " + b.why);
  }
}

CollapsedTemplate collapse_plain_lines(std::string_view tmpl) {
  // kainjow's parser makes a component of every space and newline, and copies them as its
  // vectors grow: the built-in template's comment lines were most of the cost of a start's
  // render, in CPU and in fresh heap pages (issue #10). A line without a tag renders as itself,
  // so it goes in as one unescaped variable holding its text. Its newline stays in the template,
  // so kainjow still sees where every line ends, and a line holding a section tag (the only kind
  // kainjow may drop as standalone) is left as it was. Only after check_tags: no {{= can have
  // changed the delimiters, and the template itself may hold no {{{ of its own. A line inside a
  // tag that spans lines (a {{! comment }} over several lines) is the tag's, not text: kept.
  CollapsedTemplate c;
  c.text.reserve(tmpl.size());
  size_t start = 0;
  bool in_tag = false;  // a {{ on an earlier line is not closed yet
  while (start < tmpl.size()) {
    size_t end = tmpl.find('\n', start);
    if (end == std::string_view::npos) end = tmpl.size();
    const std::string_view line = tmpl.substr(start, end - start);
    const bool inside_before = in_tag;
    bool has_delimiter = false;  // a {{ or }} on this line; the last one says whether a tag stays open
    for (size_t at = 0; (at = std::min(line.find("{{", at), line.find("}}", at))) != std::string_view::npos; at += 2) {
      has_delimiter = true;
      in_tag = line.compare(at, 2, "{{") == 0;
    }
    const bool plain = !inside_before && !has_delimiter && !line.empty() && line.find('\r') == std::string_view::npos;
    if (plain) {
      const std::string key = "leaf_agent_line_" + std::to_string(c.lines.size());
      c.text += "{{{" + key + "}}}";
      c.lines.emplace_back(key, std::string(line));
    } else {
      c.text += line;
    }
    if (end < tmpl.size()) c.text += '\n';
    start = end + 1;
  }
  return c;
}

std::string render(std::string_view tmpl, const Data& data, const std::string& template_name) {
  check_tags(tmpl, template_name);
  CollapsedTemplate collapsed = collapse_plain_lines(tmpl);
  kainjow::mustache::mustache m{collapsed.text};
  if (!m.is_valid()) throw config_error("template " + template_name + ": " + m.error_message());
  m.set_custom_escape([](const std::string& s) { return escape_nats_string(s); });
  Data with_lines = data;
  for (auto& [key, text] : collapsed.lines) with_lines.set(key, std::move(text));
  std::string out = m.render(with_lines);
  if (!m.is_valid()) throw config_error("template " + template_name + ": " + m.error_message());
  return out;
}

}  // namespace leaf::render

#include "agent/config/local_boundary.hpp"
#include "agent/config/local_tls.hpp"
#include "agent/config/nats_conf.hpp"
#include "agent/config/templates_builtin.hpp"
#include "agent/core/duration.hpp"

namespace leaf::render {

Layout layout(const config::Config& c) {
  std::string d = c.agent.state_dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return Layout{d, d + "/nats.conf", d + "/upstream.creds", d + "/upstream.alt.creds", d + "/ready", d + "/jetstream"};
}

const char* builtin_template(const config::Config& c) { return c.dev() ? templates::kDev : templates::kLeafnode; }

namespace {
// local.auth = tls: the client port's tls block and the users the certificates map to. Only
// paths and names: the certificates are made at start (local_boundary::mint), not here.
void set_local_tls(const config::Config& c, Data& d) {
  if (!c.local.tls()) {
    d.set("local_tls", false);
    d.set("local_tls_host_permissions", false);
    return;
  }
  const auto f = local_boundary::tls_files(c);
  d.set("local_tls", true);
  d.set("local_tls_ca", f.ca);
  d.set("local_tls_cert", f.server_cert);
  d.set("local_tls_key", f.server_key);
  d.set("local_tls_host_user", std::string(local_tls::kHostUser));
  d.set("local_tls_health_user", std::string(local_tls::kHealthUser));
  // permissions { publish { allow [..] deny [..] } subscribe { .. } }, only the lists set.
  Data directions{Data::type::list};
  const std::pair<const char*, std::pair<const std::vector<std::string>*, const std::vector<std::string>*>> dirs[] = {
      {"publish", {&c.local.host_pub_allow, &c.local.host_pub_deny}},
      {"subscribe", {&c.local.host_sub_allow, &c.local.host_sub_deny}}};
  for (const auto& [direction, lists] : dirs) {
    Data rules{Data::type::list};
    for (const auto& [rule, list] : {std::pair{"allow", lists.first}, std::pair{"deny", lists.second}}) {
      if (list->empty()) continue;
      Data subjects{Data::type::list};
      for (size_t i = 0; i < list->size(); ++i) {
        Data s;
        s.set("subject", (*list)[i]);
        s.set("last", i + 1 == list->size());
        subjects.push_back(s);
      }
      Data r;
      r.set("rule", std::string(rule));
      r.set("subjects", subjects);
      rules.push_back(r);
    }
    if (rules.is_empty_list()) continue;
    Data dir;
    dir.set("direction", std::string(direction));
    dir.set("rules", rules);
    directions.push_back(dir);
  }
  if (directions.is_empty_list()) {
    d.set("local_tls_host_permissions", false);
  } else {
    Data perms;
    perms.set("directions", directions);
    d.set("local_tls_host_permissions", perms);
  }
}

// The rendered config must hold the boundary the agent reports: a top-level tls block with
// verify_and_map and the local CA, and the host's user. Otherwise the port would run open (or
// refuse the host) while /status says tls.
void check_local_tls(const config::Config& c, const std::string& out, const std::string& template_name) {
  const auto f = local_boundary::tls_files(c);
  const config::ConfNode root = config::parse_nats_conf(out);
  bool tls_ok = false, user_ok = false;
  auto value = [](const config::ConfNode& m, const char* key) -> const config::ConfNode* {
    for (size_t i = 0; i < m.keys.size(); ++i) {
      if (m.keys[i] == key) return &m.values[i];
    }
    return nullptr;
  };
  if (const auto* t = value(root, "tls"); t && t->kind == config::ConfNode::Kind::map) {
    const auto* vm = value(*t, "verify_and_map");
    const auto* ca = value(*t, "ca_file");
    const auto* cert = value(*t, "cert_file");
    tls_ok = vm && vm->text == "true" && ca && ca->text == f.ca && cert && cert->text == f.server_cert;
  }
  if (const auto* a = value(root, "authorization"); a && a->kind == config::ConfNode::Kind::map) {
    if (const auto* users = value(*a, "users"); users && users->kind == config::ConfNode::Kind::array) {
      for (const auto& u : users->items) {
        const auto* name = u.kind == config::ConfNode::Kind::map ? value(u, "user") : nullptr;
        user_ok = user_ok || (name && name->text == local_tls::kHostUser);
      }
    }
  }
  if (!tls_ok || !user_ok) {
    throw config_error("template " + template_name + " leaves out the local TLS boundary that local.auth = \"tls\" needs (" +
                       (tls_ok ? "the authorization users" : "the top-level tls block with verify_and_map") +
                       "); copy the {{#local_tls}} sections of the built-in template into it");
  }
}
}  // namespace

std::string nats_config(const config::Config& c, const std::string& tmpl, const std::string& template_name,
                        const std::string& machine_name, const local_boundary::Chain* local,
                        const std::optional<nats_version::Version>& server, const std::string& creds_file,
                        bool remote_disabled) {
  if (server) {
    nats_version::check_options(c, *server, "the nats-server it is rendered for");
  } else if (const auto* g = nats_version::first_gated_option(c)) {
    throw config_error(std::string(g->key) + " needs nats-server >= " + g->since.str() +
                       ", and the version of the nats-server that will run is unknown; run agent.nats_server "
                       "where the agent can, or give `render --nats-version X`");
  } else if (c.reconnect() && !c.dev()) {
    // 2.9 crashes on a duration, 2.10+ fail -t on a number: no form fits a release not known.
    throw config_error("upstream.reconnect is written as whole seconds for nats-server 2.9 and as a duration for 2.10+, "
                       "and the version of the nats-server that will run is unknown; run agent.nats_server where the "
                       "agent can, or give `render --nats-version X`");
  }
  const Layout l = layout(c);
  Data d;
  d.set("version", std::string(LEAF_AGENT_VERSION));
  d.set("server_name", config::server_name(c, machine_name));
  d.set("listen", config::parse_listen(c.local.listen, "local.listen").str());
  d.set("monitor", config::parse_listen(c.local.monitor, "local.monitor").str());
  d.set("jetstream_dir", l.jetstream);
  d.set("creds_file", creds_file.empty() ? l.creds : creds_file);
  // leafnodes.reconnect: upstream.reconnect, or the 1 s every release defaults to, for templates
  // that set it; the built-in one writes it only when upstream.reconnect is set (reconnect_set).
  // 2.10+ take a duration, reconnect_duration ("1s", false on 2.9); 2.9 whole seconds,
  // reconnect_seconds (check_options refused anything else). Every value is escaped for a quoted
  // string, so the template chooses the form (the README shows the two sections).
  const auto reconnect = c.reconnect();
  const long long reconnect_ms = reconnect ? reconnect->count() : 1000;
  if (nats_version::reconnect_is_duration(server)) {
    d.set("reconnect_duration", format_go_duration(Millis(reconnect_ms)));
  } else {
    d.set("reconnect_duration", false);
  }
  d.set("reconnect_seconds", std::to_string(std::max(1LL, reconnect_ms / 1000)));
  d.set("reconnect_set", reconnect.has_value());
  // The first of a move by toggle's two reloads (2.12+ only: no release before has the key).
  d.set("remote_disabled", remote_disabled);
  d.set("nats_version", server ? server->str() : std::string());
  d.set("tls_timeout_seconds", "5");
  d.set("ping_interval", std::to_string(c.ping_interval().count()) + "s");
  d.set("ping_max", std::to_string(c.ping_max()));
  Data urls{Data::type::list};
  for (size_t i = 0; i < c.upstream.urls.size(); ++i) {
    Data u;
    u.set("url", c.upstream.urls[i]);
    u.set("last", i + 1 == c.upstream.urls.size());
    urls.push_back(u);
  }
  d.set("urls", urls);
  auto optional = [&d](const char* key, const std::string& v) {
    if (!v.empty()) d.set(key, v);
    else d.set(key, false);
  };
  optional("ca_file", c.upstream.ca_file);
  optional("cert_file", c.upstream.cert_file);
  optional("key_file", c.upstream.key_file);
  optional("jetstream_domain", c.upstream.jetstream_domain);
  d.set("handshake_first", c.upstream.handshake_first);
  optional("compression", c.upstream.compression);
  optional("first_info_timeout", c.first_info_timeout());
  optional("dial_timeout", c.dial_timeout());
  local_boundary::Chain throwaway;
  if (c.local.jwt() && (!local || !local->enabled())) {
    throwaway = local_boundary::mint(c, unix_now());
    local = &throwaway;
  }
  if (c.local.jwt()) {
    d.set("local_jwt", true);
    d.set("local_operator_jwt", local->operator_jwt);
    d.set("local_system_account", local->system_account);
    d.set("local_system_jwt", local->system_jwt);
    d.set("local_account", local->account);
    d.set("local_account_jwt", local->account_jwt);
  } else {
    d.set("local_jwt", false);
  }
  set_local_tls(c, d);
  std::string out = render(tmpl, d, template_name);
  if (c.local.tls()) check_local_tls(c, out, template_name);
  if (c.local.jwt() && (out.find(local->operator_jwt) == std::string::npos ||
                        out.find(local->account_jwt) == std::string::npos ||
                        (!c.dev() && out.find("account: \"" + local->account + "\"") == std::string::npos))) {
    throw config_error("template " + template_name + " leaves out the local trust chain that local.auth = \"jwt\" needs; "
                       "copy the {{#local_jwt}} sections of the built-in template into it");
  }
  config::check_local_only(out, template_name);  // the promise holds for any template, checked on the result
  return out;
}

}  // namespace leaf::render
