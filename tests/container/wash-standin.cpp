// wash-standin: a stand-in for a wasmCloud 2.x host (`wash host`), which cannot be installed
// here. It takes the NATS flags of wasmCloud's crates/wash/src/cli/host.rs (HostCommand) and
// connects as crates/wash-runtime/src/washlet/mod.rs (connect_nats) does: two connections, one
// for the scheduler (control plane) and one for data, each with its own URL (default
// nats://localhost:4222), CA, client certificate and key (TLS when a CA or certificate is given
// or the URL is tls://). Then, as the washlet does, it subscribes to runtime.host.<id>.> on the
// scheduler connection (answering "heartbeat" requests) and publishes its heartbeat to
// runtime.operator.heartbeat.<id> (every 15 s, or WASH_STANDIN_HEARTBEAT_MS). On the data
// connection it answers requests on --echo SUBJECT with "echo: <data>", the stand-in for a
// component's messaging. SIGTERM or SIGINT: unsubscribes, closes, exits 0.
//
//   wash-standin host [--host-group G] [--host-name N]
//     [--scheduler-nats-url URL] [--scheduler-nats-tls-ca F] [--scheduler-nats-tls-cert F]
//     [--scheduler-nats-tls-key F] [--scheduler-nats-tls-first]
//     [--data-nats-url URL] [--data-nats-tls-ca F] [--data-nats-tls-cert F] [--data-nats-tls-key F]
//     [--data-nats-tls-first] [--echo SUBJECT]
// Any other `wash host` flag (--http-addr, ...) is accepted with its value and ignored.
// nats.c 3.4.1 has no TLS-first mode: --*-tls-first is refused (exit 2) rather than ignored.
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>

namespace {

struct Endpoint {
  std::string url = "nats://localhost:4222";
  std::string ca, cert, key;
  bool tls_first = false;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr, "wash-standin: %s\nusage: wash-standin host [--scheduler-nats-url URL] [--scheduler-nats-tls-ca F] "
               "[--scheduler-nats-tls-cert F] [--scheduler-nats-tls-key F] [--data-nats-url URL] [--data-nats-tls-ca F] "
               "[--data-nats-tls-cert F] [--data-nats-tls-key F] [--host-group G] [--host-name N] [--echo SUBJECT]\n",
               why.c_str());
  std::exit(2);
}

natsConnection* connect(const char* plane, const Endpoint& e) {
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK) s = natsOptions_SetURL(o, e.url.c_str());
  const bool tls = e.url.rfind("tls://", 0) == 0 || !e.ca.empty() || !e.cert.empty();
  if (s == NATS_OK && tls) s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && !e.ca.empty()) s = natsOptions_LoadCATrustedCertificates(o, e.ca.c_str());
  if (s == NATS_OK && !e.cert.empty()) s = natsOptions_LoadCertificatesChain(o, e.cert.c_str(), e.key.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);  // a host outlives leaf restarts
  if (s == NATS_OK) s = natsOptions_SetName(o, (std::string("wash-standin ") + plane).c_str());
  natsConnection* nc = nullptr;
  if (s == NATS_OK) s = natsConnection_Connect(&nc, o);
  natsOptions_Destroy(o);
  if (s != NATS_OK) {
    const char* last = nats_GetLastError(nullptr);
    std::fprintf(stderr, "wash-standin: failed to connect to NATS %s URL %s: %s\n", plane, e.url.c_str(),
                 last && *last ? last : natsStatus_GetText(s));
    std::exit(1);
  }
  return nc;
}

std::string host_id;
std::string host_name;
std::string host_group;
natsConnection* scheduler = nullptr;

std::string heartbeat() {
  return "{\"id\":\"" + host_id + "\",\"hostname\":\"" + host_name + "\",\"labels\":{\"hostgroup\":\"" + host_group +
         "\"},\"version\":\"wash-standin\"}";
}

void on_api(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  const std::string subject = natsMsg_GetSubject(m);
  const std::string reply = subject.size() > 10 && subject.compare(subject.size() - 10, 10, ".heartbeat") == 0
                                ? heartbeat()
                                : std::string("{\"error\":\"unknown command\"}");
  if (natsMsg_GetReply(m)) natsConnection_PublishString(nc, natsMsg_GetReply(m), reply.c_str());
  natsMsg_Destroy(m);
}

void on_echo(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  const std::string reply = "echo: " + std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m));
  if (natsMsg_GetReply(m)) natsConnection_PublishString(nc, natsMsg_GetReply(m), reply.c_str());
  natsMsg_Destroy(m);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "host") != 0) usage("the only command is `host`");
  Endpoint sched, data;
  std::string echo;
  host_group = "default";
  char hn[256] = "";
  ::gethostname(hn, sizeof hn - 1);
  host_name = hn;
  const std::map<std::string, std::string*> values = {
      {"--scheduler-nats-url", &sched.url},      {"--scheduler-nats-tls-ca", &sched.ca},
      {"--scheduler-nats-tls-cert", &sched.cert}, {"--scheduler-nats-tls-key", &sched.key},
      {"--data-nats-url", &data.url},            {"--data-nats-tls-ca", &data.ca},
      {"--data-nats-tls-cert", &data.cert},      {"--data-nats-tls-key", &data.key},
      {"--host-group", &host_group},             {"--host-name", &host_name},
      {"--echo", &echo}};
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i], v;
    const bool inline_value = a.find('=') != std::string::npos;
    if (inline_value) v = a.substr(a.find('=') + 1), a = a.substr(0, a.find('='));
    if (a == "--scheduler-nats-tls-first" || a == "--data-nats-tls-first") {
      usage(a + ": nats.c 3.4.1 has no TLS-first mode (the real host has; leaf-agent's local port does not use it)");
    }
    if (a.rfind("--", 0) != 0) usage("unexpected argument " + a);
    if (!inline_value) {
      if (i + 1 >= argc) usage(a + " needs a value");
      v = argv[++i];
    }
    if (auto it = values.find(a); it != values.end()) *it->second = v;  // other `wash host` flags: ignored
  }
  for (const Endpoint* e : {&sched, &data}) {
    if (e->cert.empty() != e->key.empty()) usage("a TLS certificate needs its key, and a key its certificate");
  }
  std::random_device rd;
  std::mt19937_64 rng(rd());
  char id[32];
  std::snprintf(id, sizeof id, "NSTANDIN%016llX", static_cast<unsigned long long>(rng()));
  host_id = id;
  long heartbeat_ms = 15000;
  if (const char* e = std::getenv("WASH_STANDIN_HEARTBEAT_MS"); e && std::atol(e) > 0) heartbeat_ms = std::atol(e);

  // Blocked before nats.c starts its threads, so SIGTERM reaches only sigtimedwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  scheduler = connect("Scheduler", sched);
  natsConnection* dc = connect("Data", data);
  natsSubscription *api = nullptr, *svc = nullptr;
  natsStatus s = natsConnection_Subscribe(&api, scheduler, ("runtime.host." + host_id + ".>").c_str(), on_api, nullptr);
  if (s == NATS_OK && !echo.empty()) s = natsConnection_Subscribe(&svc, dc, echo.c_str(), on_echo, nullptr);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(scheduler, 5000);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(dc, 5000);
  if (s != NATS_OK) {
    std::fprintf(stderr, "wash-standin: failed to subscribe: %s\n", natsStatus_GetText(s));
    return 1;
  }
  std::printf("wash-standin: host %s started (scheduler %s, data %s%s)\n", host_id.c_str(), sched.url.c_str(),
              data.url.c_str(), sched.cert.empty() ? "" : ", client certificate");
  std::fflush(stdout);
  const std::string hb_subject = "runtime.operator.heartbeat." + host_id;
  const timespec wait{heartbeat_ms / 1000, (heartbeat_ms % 1000) * 1000000};
  for (;;) {
    natsConnection_PublishString(scheduler, hb_subject.c_str(), heartbeat().c_str());
    natsConnection_Flush(scheduler);
    const int sig = sigtimedwait(&stop_signals, nullptr, &wait);
    if (sig > 0) {
      std::printf("wash-standin: stopping on signal %d\n", sig);
      break;
    }
  }
  natsSubscription_Unsubscribe(api);
  natsSubscription_Destroy(api);
  if (svc) natsSubscription_Destroy(svc);
  natsConnection_Destroy(dc);
  natsConnection_Destroy(scheduler);
  return 0;
}
