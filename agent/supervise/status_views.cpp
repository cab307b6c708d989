#include "agent/supervise/status_views.hpp"

#include <nlohmann/json.hpp>

#include "agent/core/duration.hpp"

namespace leaf::status {

namespace {
using Json = nlohmann::json;

Json readyz_json(const View& v) {
  Json j = v.report.to_json();
  j["ready"] = v.sup.ready();
  j["state"] = supervise::phase_name(v.sup.phase());
  if (!v.sup.ready() && !v.sup.last_check().failure.empty()) j["why"] = v.sup.last_check().failure;
  return j;
}

Json credentials_json(const View& v) {
  const auto& store = v.prepared->creds;
  const auto& in_use = *store.in_use();
  const auto& t = in_use.token;
  Json cr = {{"subject", in_use.subject}, {"account", in_use.account}, {"source", store.origin()}, {"file", store.path()}};
  if (auto exp = t.expires()) cr["expires_at"] = format_utc(*exp), cr["expires_in_seconds"] = *exp - unix_now();
  else cr["expires_at"] = nullptr;
  if (!v.sup.auth_error().empty()) cr["refused"] = v.sup.auth_error();
  const auto& rs = v.sup.refresh();
  const auto wall = [&v](supervise::TimePoint t) {  // the loop's time as wall time, rounded to the second
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    const auto at_ms = now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(t - v.now);
    return format_utc((at_ms.count() + 500) / 1000);
  };
  cr["refreshable"] = v.config.credentials.source != "env";
  cr["next_refresh_at"] = rs.next_at ? Json(wall(*rs.next_at)) : Json();
  cr["refresh_in_flight"] = rs.in_flight;
  cr["refreshes"] = {{"ok", rs.ok_count}, {"error", rs.error_count}};
  if (!rs.last_result.empty()) {
    cr["last_refresh"] = {{"result", rs.last_result}, {"at", wall(*rs.last_at)}};
    if (!rs.last_error.empty()) cr["last_refresh"]["error"] = rs.last_error;
  }
  cr["expiring"] = rs.expiring;
  const auto& rot = v.sup.rotation();
  cr["rotation"] = {{"mode", v.config.credentials.rotate},
                    {"last_mechanism", rot.last_mechanism.empty() ? Json() : Json(rot.last_mechanism)},
                    {"last_gap_ms", rot.last_gap ? Json(rot.last_gap->count()) : Json()},
                    {"moves", {{"reload", rot.by_reload}, {"toggle", rot.by_toggle}, {"expiry", rot.by_expiry}}},
                    {"fallbacks", rot.fallbacks},
                    {"moving", rot.moving},
                    {"reload_refused", rot.reload_refused}};
  return cr;
}

Json status_json(const View& v) {
  const auto& c = v.config;
  Json j;
  j["state"] = supervise::phase_name(v.sup.phase());
  j["ready"] = v.sup.ready();
  j["mode"] = c.agent.mode;
  j["upstream"] = {{"urls", c.upstream.urls},
                   {"connected", v.sup.upstream_in_use().empty() ? Json() : Json(v.sup.upstream_in_use())}};
  if (v.prepared && v.prepared->creds.in_use()) j["credentials"] = credentials_json(v);
  j["nats_server"] = {{"pid", v.nats_pid}, {"restarts", v.sup.nats_restarts()},
                      {"version", v.sup.nats_version().empty() ? Json() : Json(v.sup.nats_version())},
                      {"config", v.prepared ? v.prepared->layout.nats_conf : std::string()}};
  j["host"] = {{"running", v.host_pid > 0}, {"pid", v.host_pid}};
  j["local"] = {{"listen", c.local.listen}, {"monitor", c.local.monitor},
                {"auth", v.prepared ? local_boundary::status(c, v.prepared->local) : Json()}};
  if (auto after = v.sup.ready_after()) j["ready_after_ms"] = after->count();
  j["checks"] = v.report.to_json()["checks"];
  return j;
}

std::string metrics(const View& v) {
  const auto& sup = v.sup;
  std::string m;
  auto gauge = [&m](const char* name, const char* help, double value) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " + std::to_string(value) + "\n";
  };
  gauge("leaf_agent_ready", "1 when the leaf is connected upstream and a local client can talk", sup.ready() ? 1 : 0);
  gauge("leaf_agent_leaf_connected", "1 when /leafz shows the upstream connection", sup.last_check().leaf_listed ? 1 : 0);
  m += "# HELP leaf_agent_nats_server_restarts_total nats-server restarts by the agent\n"
       "# TYPE leaf_agent_nats_server_restarts_total counter\nleaf_agent_nats_server_restarts_total " +
       std::to_string(sup.nats_restarts()) + "\n";
  if (!sup.nats_version().empty()) {
    m += "# HELP leaf_agent_nats_server_info the nats-server release the agent runs\n"
         "# TYPE leaf_agent_nats_server_info gauge\nleaf_agent_nats_server_info{version=\"" + sup.nats_version() + "\"} 1\n";
  }
  const auto& in_use = v.prepared ? v.prepared->creds.in_use() : std::nullopt;
  if (in_use && in_use->token.expires()) {
    const auto exp = *in_use->token.expires();
    gauge("leaf_agent_credentials_expiry_timestamp_seconds", "expiry of the upstream user JWT", static_cast<double>(exp));
    gauge("leaf_agent_credentials_expiry_seconds", "seconds until the upstream user JWT in use expires",
          static_cast<double>(exp - unix_now()));
    gauge("leaf_agent_credentials_expiring", "1 when the credentials are within credentials.min_lifetime of expiry and not renewed",
          sup.refresh().expiring ? 1 : 0);
  }
  if (in_use) {
    m += "# HELP leaf_agent_credential_refreshes_total credential refreshes by result\n"
         "# TYPE leaf_agent_credential_refreshes_total counter\n"
         "leaf_agent_credential_refreshes_total{result=\"ok\"} " + std::to_string(sup.refresh().ok_count) + "\n"
         "leaf_agent_credential_refreshes_total{result=\"error\"} " + std::to_string(sup.refresh().error_count) + "\n";
    const auto& rot = sup.rotation();
    m += "# HELP leaf_agent_credential_rotations_total moves of the leaf to rotated credentials, by mechanism\n"
         "# TYPE leaf_agent_credential_rotations_total counter\n"
         "leaf_agent_credential_rotations_total{mechanism=\"reload\"} " + std::to_string(rot.by_reload) + "\n"
         "leaf_agent_credential_rotations_total{mechanism=\"toggle\"} " + std::to_string(rot.by_toggle) + "\n"
         "leaf_agent_credential_rotations_total{mechanism=\"expiry\"} " + std::to_string(rot.by_expiry) + "\n";
    if (rot.last_gap) {
      gauge("leaf_agent_credential_rotation_gap_seconds", "the last move's time without an upstream link",
            static_cast<double>(rot.last_gap->count()) / 1000.0);
    }
  }
  if (auto after = sup.ready_after()) gauge("leaf_agent_time_to_ready_seconds", "seconds from agent start to first ready", after->count() / 1000.0);
  return m;
}
}  // namespace

HttpResponse serve(const View& v, const std::string& path) {
  try {
    const auto dump = [](const Json& j, int indent = -1) { return j.dump(indent, ' ', false, Json::error_handler_t::replace) + "\n"; };
    if (path == "/livez") return {200, "application/json", "{\"status\":\"ok\"}\n"};
    if (path == "/readyz") return {v.sup.ready() ? 200 : 503, "application/json", dump(readyz_json(v))};
    if (path == "/status") return {200, "application/json", dump(status_json(v), 2)};
    if (path == "/metrics") return {200, "text/plain; version=0.0.4", metrics(v)};
    return {404, "text/plain", "not found: try /livez /readyz /status /metrics\n"};
  } catch (const std::exception&) {
    return {500, "text/plain", "internal error\n"};
  }
}

}  // namespace leaf::status
