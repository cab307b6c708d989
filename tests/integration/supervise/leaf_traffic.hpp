// Traffic through the leaf for the local-boundary tests of local.auth = jwt and = tls (the
// assertions stay theirs): a request answered across it, and which published subjects arrive.
#pragma once

#include <nats/nats.h>

#include <string>

namespace harness {

// Requests `subject` until answered (interest crosses the leaf asynchronously); the reply, or
// "(no reply: <status>)".
inline std::string request(natsConnection* nc, const char* subject, const char* data) {
  natsMsg* reply = nullptr;
  natsStatus s = NATS_TIMEOUT;
  for (int i = 0; i < 50 && s != NATS_OK; ++i) s = natsConnection_RequestString(&reply, nc, subject, data, 200);
  if (s != NATS_OK) return "(no reply: " + std::string(natsStatus_GetText(s)) + ")";
  std::string out(natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
  natsMsg_Destroy(reply);
  return out;
}

struct PublishSeen {
  bool open = false;    // `open_subject` arrived (the hub's interest reached the leaf)
  bool denied = false;  // `denied_subject` arrived
  bool after = false;   // `after_subject`, published after the denied one, arrived
};

// Publishes `open_subject` until the hub client sees it (up to 5 s), then `denied_subject` and
// `after_subject`, and reports what the hub client saw within a second.
inline PublishSeen publish_through_leaf(natsConnection* host, natsConnection* hub, const char* open_subject,
                                        const char* denied_subject, const char* after_subject) {
  PublishSeen seen;
  natsSubscription* sub = nullptr;
  if (natsConnection_SubscribeSync(&sub, hub, ">") != NATS_OK) return seen;
  natsConnection_Flush(hub);
  natsMsg* msg = nullptr;
  for (int i = 0; i < 50 && !seen.open; ++i) {
    natsConnection_PublishString(host, open_subject, "ok");
    natsConnection_Flush(host);
    while (natsSubscription_NextMsg(&msg, sub, 100) == NATS_OK) {
      seen.open = seen.open || std::string(natsMsg_GetSubject(msg)) == open_subject;
      natsMsg_Destroy(msg);
    }
  }
  if (seen.open) {
    natsConnection_PublishString(host, denied_subject, "leak");
    natsConnection_PublishString(host, after_subject, "after");
    natsConnection_Flush(host);
    while (natsSubscription_NextMsg(&msg, sub, 1000) == NATS_OK) {
      const std::string subject = natsMsg_GetSubject(msg);
      seen.denied = seen.denied || subject == denied_subject;
      seen.after = seen.after || subject == after_subject;
      natsMsg_Destroy(msg);
    }
  }
  natsSubscription_Destroy(sub);
  return seen;
}

}  // namespace harness
