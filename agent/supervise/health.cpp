#include "agent/supervise/health.hpp"

#include <curl/curl.h>
#include <nats/nats.h>

#include <memory>

#include "agent/config/local_boundary.hpp"

namespace leaf::health {

namespace {
size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}
}  // namespace

nlohmann::json Report::to_json() const {
  auto one = [](const Check& c) { return nlohmann::json{{"ok", c.ok}, {"detail", c.detail}}; };
  return {{"ready", ready()},
          {"checks", {{"nats_server", one(server)}, {"healthz", one(healthz)}, {"leaf", one(leaf)}, {"client", one(client)}}}};
}

HttpResult http_get_local(const std::string& host_port, const std::string& path, long timeout_ms) {
  HttpResult r;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> c(curl_easy_init(), curl_easy_cleanup);
  const std::string url = "http://" + host_port + path;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c.get(), CURLOPT_NOPROXY, "*");  // loopback: never through a proxy
  curl_easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  return r;
}

Check check_healthz(const config::Config& c) {
  const HttpResult r = http_get_local(c.local.monitor, "/healthz", 1000);
  if (r.status == 200) return {true, "ok"};
  return {false, r.status ? "/healthz returned " + std::to_string(r.status) : "/healthz: " + r.error};
}

Check check_leaf(const config::Config& c, LeafInfo* info) {
  if (c.dev()) return {true, "dev mode: no upstream"};
  const HttpResult r = http_get_local(c.local.monitor, "/leafz", 1000);
  if (r.status != 200) return {false, r.status ? "/leafz returned " + std::to_string(r.status) : "/leafz: " + r.error};
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_object()) return {false, "/leafz: not JSON"};
  const auto& leafs = j.value("leafs", nlohmann::json::array());
  if (!leafs.is_array() || leafs.empty()) return {false, "no leaf connection to the upstream yet"};
  const auto& l = leafs[0];
  const std::string up = l.value("ip", std::string("?")) + ":" + std::to_string(l.value("port", 0));
  // Listed as soon as it is created, before the hub has judged the credentials: the caller
  // confirms it (an RTT, which nats-server measures about 1 s in, or a settle time).
  const std::string rtt = l.value("rtt", std::string());
  if (info) *info = {true, !rtt.empty() && rtt != "0s", up};
  return {true, "connected to " + up};
}

Check check_client(const config::Config& c) {
  natsOptions* opts = nullptr;
  natsConnection* conn = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return {false, "nats.c: cannot create options"};
  const std::string url = "nats://" + c.local.listen;
  natsOptions_SetURL(opts, url.c_str());
  natsOptions_SetTimeout(opts, 1000);
  natsOptions_SetAllowReconnect(opts, false);
  natsOptions_SetName(opts, "leaf-agent health");
  // local.auth = jwt: the agent's own probe user (no subject rights), never the host's.
  const std::string creds = c.local.jwt() ? local_boundary::health_creds_path(c) : std::string();
  if (!creds.empty()) natsOptions_SetUserCredentialsFromFiles(opts, creds.c_str(), nullptr);
  natsStatus s = natsConnection_Connect(&conn, opts);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn, 1000);
  Check out = s == NATS_OK ? Check{true, "flush ok on " + c.local.listen}
                           : Check{false, std::string("client on ") + c.local.listen + ": " + natsStatus_GetText(s)};
  if (conn) natsConnection_Destroy(conn);
  natsOptions_Destroy(opts);
  return out;
}

Report check_all(const config::Config& c, bool server_running, LeafInfo* info) {
  Report r;
  r.server = server_running ? Check{true, "running"} : Check{false, "nats-server is not running"};
  if (!server_running) return r;
  r.healthz = check_healthz(c);
  r.leaf = check_leaf(c, info);
  // Only bother a client connection once the cheaper checks pass.
  r.client = (r.healthz.ok && r.leaf.ok) ? check_client(c) : Check{false, "not checked yet"};
  return r;
}

}  // namespace leaf::health
