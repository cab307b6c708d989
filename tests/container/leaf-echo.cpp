// leaf-echo: the stand-in wasmCloud host of the container tests, and their hub-side client.
//   leaf-echo serve SUBJECT          reply to every request on SUBJECT with "echo: <data>"
//   leaf-echo request SUBJECT DATA   one request; print the reply; exit 0, or 1 on no reply
// NATS_URL (default nats://127.0.0.1:4222), NATS_CREDS (a .creds file) and NATS_CA (CA bundle,
// turns on TLS) set where and how to connect. A real nats.c client: in the compose stacks the
// responder sits behind the leaf node, so a reply proves the path hub -> leaf -> host.
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "container/nats_creds.hpp"

namespace {
[[noreturn]] void die(const char* what, natsStatus s) {
  std::fprintf(stderr, "leaf-echo: %s: %s\n", what, natsStatus_GetText(s));
  std::exit(1);
}

natsConnection* connect() {
  // A creds file is signed by nats_creds (nats.c 3.4.1 drops a signature that starts with a 0
  // byte: see tests/container/nats_creds.hpp), which connects again in that case alone.
  // static: nats.c calls the callbacks again at every reconnect, for the life of the process.
  static std::optional<nats_creds::Callbacks> cb;
  const char* creds = std::getenv("NATS_CREDS");
  if (creds && *creds) cb = nats_creds::from_file(creds);
  natsConnection* nc = nullptr;
  const natsStatus s = nats_creds::connect(&nc, [creds](natsOptions* o) {
    const char* url = std::getenv("NATS_URL");
    natsStatus r = natsOptions_SetURL(o, url && *url ? url : "nats://127.0.0.1:4222");
    if (r == NATS_OK && creds && *creds) r = nats_creds::use(o, cb, creds);
    if (const char* ca = std::getenv("NATS_CA"); r == NATS_OK && ca && *ca) {
      r = natsOptions_SetSecure(o, true);
      if (r == NATS_OK) r = natsOptions_LoadCATrustedCertificates(o, ca);
    }
    if (r == NATS_OK) r = natsOptions_SetMaxReconnect(o, -1);  // a host outlives leaf restarts
    return r;
  });
  if (s != NATS_OK) die("connect", s);
  return nc;
}

void on_request(natsConnection* nc, natsSubscription*, natsMsg* m, void*) {
  const std::string reply = "echo: " + std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m));
  if (natsMsg_GetReply(m)) natsConnection_PublishString(nc, natsMsg_GetReply(m), reply.c_str());
  natsMsg_Destroy(m);
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "serve" && argc == 3) || (mode == "request" && argc == 4))) {
    std::fprintf(stderr, "usage: leaf-echo serve SUBJECT | leaf-echo request SUBJECT DATA\n");
    return 2;
  }
  // Blocked before nats.c starts its threads, so SIGTERM reaches only sigwait() below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  natsConnection* nc = connect();
  natsStatus s;
  if (mode == "request") {
    natsMsg* reply = nullptr;
    s = natsConnection_RequestString(&reply, nc, argv[2], argv[3], 2000);
    if (s != NATS_OK) die("request", s);
    std::printf("%.*s\n", natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    return 0;
  }
  natsSubscription* sub = nullptr;
  s = natsConnection_Subscribe(&sub, nc, argv[2], on_request, nullptr);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(nc, 5000);
  if (s != NATS_OK) die("subscribe", s);
  std::printf("leaf-echo: serving %s\n", argv[2]);
  std::fflush(stdout);
  int sig = 0;  // serve until SIGTERM or SIGINT, then exit 0
  sigwait(&stop_signals, &sig);
  std::printf("leaf-echo: stopping on signal %d\n", sig);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  return 0;
}
