#include <doctest/doctest.h>

#include <string>

#include "agent/supervise/nats_log.hpp"

using namespace leaf::supervise;

TEST_CASE("nats_log: levels and kinds of nats-server 2.9 lines") {
  const auto l = classify_nats_line("[42] 2026/11/22 16:25:43.117540 [INF] 127.0.0.1:7422 - lid:5 - Leafnode connection created for account: $G");
  CHECK(l.level == NatsLevel::info);
  CHECK(l.kind == NatsLineKind::leaf_connected);
  CHECK(l.message == "127.0.0.1:7422 - lid:5 - Leafnode connection created for account: $G");
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Credentials file malformed").kind == NatsLineKind::creds_malformed);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Credentials file has malformed seed").kind == NatsLineKind::creds_malformed);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Leafnode Error 'User Authentication Expired'").kind == NatsLineKind::auth_expired);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Leafnode Error 'Authorization Violation'").kind == NatsLineKind::auth_refused);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Leafnode Error 'Stale Connection'").kind == NatsLineKind::leaf_error);
  // -ERRs the hub follows by closing the connection (nats-server leafnode.go), and one it does not.
  for (const char* err : {"connection rejected since minimum version required is \"2.10.0\"",
                          "Loop detected for leafnode account=\"$G\". Delaying attempt to reconnect for 30s",
                          "remote leafnode has same cluster name"}) {
    CHECK(classify_nats_line(std::string("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Leafnode Error '") + err + "'").kind ==
          NatsLineKind::leaf_rejected);
  }
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] 127.0.0.1:7422 - lid:5 - Leafnode Error 'Permissions Violation for Publish to \"x\"'").kind ==
        NatsLineKind::leaf_error);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [INF] 127.0.0.1:7422 - lid:5 - Leafnode connection closed: Client Closed").kind == NatsLineKind::leaf_closed);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [INF] Server is ready").kind == NatsLineKind::server_ready);
  const auto ftl = classify_nats_line("[1] 2026/11/22 16:25:43.117540 [FTL] Error listening on port");
  CHECK(ftl.level == NatsLevel::fatal);
  CHECK(ftl.kind == NatsLineKind::other);
  const auto bare = classify_nats_line("panic: something");
  CHECK(bare.level == NatsLevel::info);
  CHECK(bare.message == "panic: something");
  // A level tag deep inside a message is part of the message, not a level.
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [INF] a message that quotes [ERR] later").level == NatsLevel::info);
}


TEST_CASE("nats_log: the agent's own probe connecting is debug, not info (local.auth = jwt logs each one)") {
  const auto probe = classify_nats_line(
      "[1] 2026/11/23 10:00:00.000000 [INF] 127.0.0.1:50000 - cid:9 - \"v3.4.1:c:leaf-agent health\" - User \"UABC\" connected");
  CHECK(probe.level == NatsLevel::debug);
  const auto other = classify_nats_line(
      "[1] 2026/11/23 10:00:00.000000 [INF] 127.0.0.1:50000 - cid:9 - \"v3.4.1:c:host\" - User \"UABC\" connected");
  CHECK(other.level == NatsLevel::info);
}

TEST_CASE("nats_log: a server-level line counts only from its start") {
  CHECK(classify_nats_line("[1] 2026/11/23 10:00:00.000000 [ERR] LeafNode Remote Credentials file \"/s/upstream.creds\" malformed").kind ==
        NatsLineKind::creds_malformed);
  CHECK(classify_nats_line("[1] 2026/11/23 10:00:00.000000 [ERR] Error trying to connect as leafnode to remote server \"h:7422\" (attempt 1): dial tcp: refused")
            .kind == NatsLineKind::leaf_error);
  CHECK(classify_nats_line("[1] 2026/11/23 10:00:00.000000 [INF] Server is ready now, says someone").kind == NatsLineKind::other);
}

TEST_CASE("nats_log: a local client cannot make a line about the upstream (its words are quoted in client lines)") {
  // What nats-server 2.9.10 logs when a local client sends the phrase as garbage, or names its
  // connection after it: every kind the agent acts on, in both shapes. None may count.
  const char* phrases[] = {"Credentials file malformed", "Credentials file has malformed seed",
                           "Leafnode Error 'User Authentication Expired'", "Leafnode Error 'Authorization Violation'",
                           "Leafnode Error 'x'", "Leafnode connection closed: Client Closed", "Leafnode connection created for account: $G",
                           "JetStream Not Extended, adding deny [] for account \"$G\"", "Server is ready",
                           "Error trying to connect as leafnode to remote server", "LeafNode Remote Credentials file \"x\" malformed"};
  for (const char* p : phrases) {
    CAPTURE(p);
    const std::string parser = std::string("[1] 2026/11/23 10:00:00.000000 [ERR] 127.0.0.1:45700 - cid:6 - Client parser ERROR, state=0, i=0: proto='\"x") + p + "\\r\"...'";
    CHECK(classify_nats_line(parser).kind == NatsLineKind::other);
    const std::string named = std::string("[1] 2026/11/23 10:00:00.000000 [ERR] 127.0.0.1:45700 - cid:7 - \"") + p + "\" - authentication error";
    CHECK(classify_nats_line(named).kind == NatsLineKind::other);
    const std::string fake_lid = std::string("[1] 2026/11/23 10:00:00.000000 [ERR] 127.0.0.1:45700 - cid:7 - \"x - lid:1 - ") + p + "\" - authentication error";
    CHECK(classify_nats_line(fake_lid).kind == NatsLineKind::other);
  }
}

TEST_CASE("nats_log: the lines of nats-server 2.10 to 2.15 (as 2.10.27 and 2.15.1 write them)") {
  const char* p = "[7220] 2026/12/04 19:18:31.226000 [INF] ";
  // The acceptance hint, reworded in 2.10; the system account's own variant.
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:17422 - lid:5 - JetStream using domains: local \"\", remote \"hub\"").kind ==
        NatsLineKind::leaf_accepted);
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:17422 - lid:5 - JetStream not extended, domains differ").kind ==
        NatsLineKind::leaf_accepted);
  // Close lines: 2.10-2.11 "- Account: X", 2.12+ "- Remote: <hub name>".
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:17422 - lid:5 - Leafnode connection closed: Server Shutdown - Account: $G").kind ==
        NatsLineKind::leaf_closed);
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:17422 - lid:5 - Leafnode connection closed: Server Shutdown - Remote: leaf-agent-dev-hub").kind ==
        NatsLineKind::leaf_closed);
  // A wss:// remote's connection is "lid_ws:N" (every release).
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:443 - lid_ws:7 - Leafnode connection created for account: $G").kind ==
        NatsLineKind::leaf_connected);
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:443 - lid_wsx:7 - Leafnode connection created for account: $G").kind ==
        NatsLineKind::other);
  // The banner names the release: the agent learns the running server's version for free.
  const auto v = classify_nats_line("[7220] 2026/12/04 19:18:31.215000 [INF]   Version:  2.15.1");
  CHECK(v.kind == NatsLineKind::server_version);
  CHECK(v.version == "2.15.1");
  CHECK(classify_nats_line("[7220] 2026/12/04 19:18:31.215000 [INF]   Version:  2.9.10").version == "2.9.10");
  // ...only the server's own line: a client's words sit after a connection prefix.
  CHECK(classify_nats_line(std::string(p) + "127.0.0.1:5555 - cid:9 - \"Version: 9.9.9\" - x").kind == NatsLineKind::other);
  CHECK(classify_nats_line("[1] 2026/12/04 19:18:31.215000 [WRN] Version: 9.9.9").kind == NatsLineKind::other);
}

TEST_CASE("nats_log: a refused leaf's lines are printed once per shape and window, the rest counted") {
  using namespace std::chrono_literals;
  LineThrottle t(30s);
  const LineThrottle::TimePoint t0{};
  const auto refused = [](int lid) {
    return "127.0.0.1:7422 - lid:" + std::to_string(lid) + " - Leafnode Error 'Authorization Violation'";
  };
  CHECK(t.admit(refused(5), t0).print);
  // Attempts every 50 ms: held back, whatever the connection id.
  for (int i = 1; i <= 40; ++i) CHECK_FALSE(t.admit(refused(5 + i), t0 + i * 50ms).print);
  // Another shape is its own: the close line of the same attempts.
  CHECK(t.admit("127.0.0.1:7422 - lid:6 - Leafnode connection closed: Client Closed - Account: $G", t0 + 50ms).print);
  // A window later the next one is printed, with the count of those held back.
  const auto v = t.admit(refused(99), t0 + 30s);
  CHECK(v.print);
  CHECK(v.held_back == 40);
  CHECK_FALSE(t.admit(refused(100), t0 + 30s + 50ms).print);
  // Lines without a connection id are never held back: the banner of a restart, reload lines.
  for (int i = 0; i < 3; ++i) CHECK(t.admit("Reloaded server configuration", t0 + i * 1ms).print);
  for (int i = 0; i < 3; ++i) CHECK(t.admit("Version:  2.10.27", t0 + i * 1ms).print);
  // A flood of distinct shapes does not grow without bound: it starts over.
  for (int i = 0; i < 1000; ++i) t.admit("127.0.0.1:7422 - lid:1 - " + std::string(static_cast<size_t>(i % 300 + 1), 'x'), t0);
  CHECK(t.admit(refused(7), t0 + 1s).print);  // forgotten in the start-over: printed again
  // Matched by shape, not by a substring: a local client's lines that quote "lid:" are its own.
  LineThrottle u(30s);
  const std::string client = "127.0.0.1:50122 - cid:9 - \"lid:1 - x\" - Client parser ERROR, state=0, i=0: proto='\"lid:1 - \"'";
  for (int i = 0; i < 3; ++i) CHECK(u.admit(client, t0 + i * 1ms).print);
  for (const char* not_leaf : {" - lid:5 - starts with the separator", "a b - lid:5 - spaces before it", "h:1 - lid: - no id",
                               "h:1 - lid:5x - not a number", "h:1 - lid:5"}) {
    CAPTURE(not_leaf);
    for (int i = 0; i < 2; ++i) CHECK(u.admit(not_leaf, t0).print);
  }
  // A new nats-server: its lines are printed from the first again.
  CHECK(u.admit(refused(1), t0).print);
  CHECK_FALSE(u.admit(refused(2), t0).print);
  u.reset();
  CHECK(u.admit(refused(3), t0).print);
}

TEST_CASE("nats_log: lines held back that nothing follows come out a window later, the last with the count") {
  using namespace std::chrono_literals;
  LineThrottle t(30s);
  const LineThrottle::TimePoint t0{};
  const auto line = [](int lid, const char* what) { return "10.0.0.1:7422 - lid:" + std::to_string(lid) + " - " + what; };
  CHECK(t.admit(line(5, "Leafnode Error 'Authorization Violation'"), t0, 4).print);
  CHECK_FALSE(t.holding());
  CHECK_FALSE(t.admit(line(6, "Leafnode Error 'Authorization Violation'"), t0 + 1s, 4).print);
  CHECK_FALSE(t.admit(line(7, "Leafnode Error 'Authorization Violation'"), t0 + 2s, 4).print);
  CHECK(t.holding());
  CHECK(t.take_due(t0 + 29s).empty());  // not a window since the one printed yet
  const auto due = t.take_due(t0 + 30s);
  REQUIRE(due.size() == 1);
  CHECK(due[0].message == line(7, "Leafnode Error 'Authorization Violation'"));
  CHECK(due[0].level == 4);
  CHECK(due[0].count == 2);
  CHECK_FALSE(t.holding());
  CHECK(t.take_due(t0 + 90s).empty());  // said once
  // Counted as printed: the next one within a window of the flush is held back again.
  CHECK_FALSE(t.admit(line(8, "Leafnode Error 'Authorization Violation'"), t0 + 31s, 4).print);
  CHECK(t.admit(line(9, "Leafnode Error 'Authorization Violation'"), t0 + 61s, 4).held_back == 1);
}
