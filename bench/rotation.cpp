// What a credential rotation costs the traffic through a leaf (issue #21), with a real dev hub,
// the real agent and nats.c clients: signer credentials living `--ttl` seconds are rotated
// `--rotations` times while a local client publishes to a hub subscriber and a hub client to a
// local subscriber, `--rate` messages a second each way, every message numbered. Prints one line:
//   ROTATION leaf=<release> mode=<auto|toggle|expiry> moves=<reload>+<toggle>+<expiry> sent=<n> lost_up=<n>
//            lost_down=<n> lost_per_rotation=<x> longest_loss_ms=<up>/<down> agent_gap_ms=<last>
// Longest loss: from the sending of the last message delivered before a run of lost ones to that
// of the first delivered after (a stall with nothing lost is no gap).
//   bench_rotation --leaf-nats PATH [--hub-nats PATH] [--rotate auto|toggle|expiry] [--reconnect 50ms] [--rotations 3] [--rate 100]
#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/supervise/agent_support.hpp"

using namespace harness;

namespace {
struct Received {
  std::mutex mu;
  std::set<long> seqs;
};

void on_msg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* r = static_cast<Received*>(closure);
  const std::string data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (!data.empty() && data[0] >= '0' && data[0] <= '9') {
    std::lock_guard<std::mutex> g(r->mu);
    r->seqs.insert(std::stol(data));
  }
  natsMsg_Destroy(msg);
}

struct Loss {
  long lost = 0;
  long longest_ms = 0;
};

Loss loss_of(Received& r, const std::vector<Clock::time_point>& sent_at) {
  std::lock_guard<std::mutex> g(r.mu);
  Loss out;
  out.lost = static_cast<long>(sent_at.size()) - static_cast<long>(r.seqs.size());
  long last = -1;
  for (long s : r.seqs) {
    if (last >= 0 && s > last + 1) {
      out.longest_ms = std::max<long>(out.longest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          sent_at[static_cast<size_t>(s)] - sent_at[static_cast<size_t>(last)]).count());
    }
    last = s;
  }
  return out;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == name) return argv[i + 1];
  }
  return fallback;
}
}  // namespace

int main(int argc, char** argv) {
  const std::string leaf = arg(argc, argv, "--leaf-nats", "nats-server");
  const std::string hub_bin = arg(argc, argv, "--hub-nats", leaf);
  const std::string mode = arg(argc, argv, "--rotate", "auto");
  const std::string reconnect = arg(argc, argv, "--reconnect", "");  // upstream.reconnect; "": the server's 1 s
  const int rotations = std::atoi(arg(argc, argv, "--rotations", "3").c_str());
  const int rate = std::atoi(arg(argc, argv, "--rate", "100").c_str());
  ::setenv("LEAF_AGENT_AGENT_NATS_SERVER", leaf.c_str(), 1);
  ::setenv("LEAF_TEST_HUB_NATS_SERVER", hub_bin.c_str(), 1);
  const auto release = nats_version_of(leaf);

  Hub hub;
  AgentSetup a(hub);
  a.use_signer_source("20s");
  a.toml["credentials"]["min_lifetime"] = "\"2s\"";
  a.toml["credentials"]["rotate"] = AgentSetup::quote(mode);
  if (!reconnect.empty()) a.toml["upstream"]["reconnect"] = AgentSetup::quote(reconnect);
  auto p = a.start();
  if (!wait_until([&] { return a.ready(); }, 30s)) {
    std::fprintf(stderr, "bench_rotation: the agent did not become ready:\n%s\n", p->err().c_str());
    return 1;
  }
  auto hub_client = nats_connect(hub.client_url(), hub.file("hub/client.creds"), hub.file("hub/ca.pem"));
  auto local = nats_connect(a.local_url());
  if (!hub_client->ok() || !local->ok()) {
    std::fprintf(stderr, "bench_rotation: cannot connect the clients\n");
    return 1;
  }
  Received up, down;
  natsSubscription *up_sub = nullptr, *down_sub = nullptr;
  natsConnection_Subscribe(&up_sub, hub_client->conn, "bench.rotation.up", on_msg, &up);
  natsConnection_Subscribe(&down_sub, local->conn, "bench.rotation.down", on_msg, &down);
  natsConnection_Flush(hub_client->conn);
  natsConnection_Flush(local->conn);
  std::this_thread::sleep_for(1s);  // each side's interest reaches the other

  // Until `rotations` moves have happened (the credentials are replaced every ~13 s), then 2 s more.
  const auto interval = std::chrono::microseconds(1000000 / std::max(rate, 1));
  const auto start = Clock::now();
  const auto limit = start + std::chrono::seconds(20 * rotations + 20);
  std::vector<Clock::time_point> sent_at;
  struct Moves {
    int reload = 0, toggle = 0, expiry = 0;
    int all() const { return reload + toggle + expiry; }
  };
  auto moves = [&] {
    const auto st = a.status();
    if (!st.contains("credentials")) return Moves{};
    const auto& m = st["credentials"]["rotation"]["moves"];
    return Moves{m["reload"].get<int>(), m["toggle"].get<int>(), m["expiry"].get<int>()};
  };
  std::optional<Clock::time_point> done_at;
  while (Clock::now() < limit) {
    const std::string seq = std::to_string(sent_at.size());
    sent_at.push_back(Clock::now());
    natsConnection_PublishString(local->conn, "bench.rotation.up", seq.c_str());
    natsConnection_PublishString(hub_client->conn, "bench.rotation.down", seq.c_str());
    if (sent_at.size() % static_cast<size_t>(rate) == 0 && !done_at) {
      if (moves().all() >= rotations) done_at = Clock::now();
    }
    if (done_at && Clock::now() - *done_at > 2s) break;
    std::this_thread::sleep_until(start + interval * static_cast<long>(sent_at.size()));
  }
  natsConnection_Flush(local->conn);
  natsConnection_Flush(hub_client->conn);
  std::this_thread::sleep_for(500ms);
  natsSubscription_Unsubscribe(up_sub);
  natsSubscription_Unsubscribe(down_sub);
  natsSubscription_Destroy(up_sub);
  natsSubscription_Destroy(down_sub);

  const Loss lu = loss_of(up, sent_at), ld = loss_of(down, sent_at);
  const Moves m = moves();
  const auto st = a.status();
  const auto& gap = st["credentials"]["rotation"]["last_gap_ms"];
  const int n = std::max(1, m.all());
  std::printf("ROTATION leaf=%d.%d.%d mode=%s moves=%d+%d+%d sent=%zu lost_up=%ld lost_down=%ld lost_per_rotation=%.1f "
              "longest_loss_ms=%ld/%ld agent_gap_ms=%s\n",
              release[0], release[1], release[2], mode.c_str(), m.reload, m.toggle, m.expiry, sent_at.size(), lu.lost, ld.lost,
              static_cast<double>(lu.lost + ld.lost) / 2.0 / n, lu.longest_ms, ld.longest_ms,
              gap.is_number() ? std::to_string(gap.get<long>()).c_str() : "-");
  return p->stop() == 0 ? 0 : 1;
}
