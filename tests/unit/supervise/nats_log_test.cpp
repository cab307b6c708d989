#include <doctest/doctest.h>

#include "agent/supervise/nats_log.hpp"

using namespace leaf::supervise;

TEST_CASE("nats_log: levels and kinds of nats-server 2.9 lines") {
  const auto l = classify_nats_line("[42] 2026/11/22 16:25:43.117540 [INF] 127.0.0.1:7422 - lid:5 - Leafnode connection created for account: $G");
  CHECK(l.level == NatsLevel::info);
  CHECK(l.kind == NatsLineKind::leaf_connected);
  CHECK(l.message == "127.0.0.1:7422 - lid:5 - Leafnode connection created for account: $G");
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] x - Credentials file malformed").kind == NatsLineKind::creds_malformed);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] x - Credentials file has malformed seed").kind == NatsLineKind::creds_malformed);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] x - Leafnode Error 'User Authentication Expired'").kind == NatsLineKind::auth_expired);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] x - Leafnode Error 'Authorization Violation'").kind == NatsLineKind::auth_refused);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [ERR] x - Leafnode Error 'Stale Connection'").kind == NatsLineKind::leaf_error);
  CHECK(classify_nats_line("[1] 2026/11/22 16:25:43.117540 [INF] x - Leafnode connection closed: Client Closed").kind == NatsLineKind::leaf_closed);
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
