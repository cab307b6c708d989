// The runner with the real binary, a real dev hub and real files: what it owns (workers, the
// files of a start, the credentials watch) under the conditions that used to break it.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/core/duration.hpp"
#include "agent/preflight/pki.hpp"
#include "agent/sources/signer.hpp"
#include "agent_support.hpp"
#include "support/https_server.hpp"

using namespace harness;

namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}
}  // namespace

// Issue #20, defect 2: one worker ran the bootstrap, every refresh and every readiness check, so a
// refresh from a slow endpoint (up to 4 x 10 s) held every check behind it: a nats-server that
// stopped answering stayed "ready" meanwhile.
TEST_CASE("runner: readiness checks go on while a refresh waits for a slow credentials endpoint") {
  Hub hub;
  CredsEndpoint endpoint;
  HttpsServer& server = *endpoint.server;
  server.respond(200, nlohmann::json{{"creds", mint_user_creds(hub, "hub/lattice.nk", 3600)}}.dump());
  AgentSetup a(hub);
  a.use_http_source(endpoint);
  auto p = a.start({}, AgentSetup::no_proxy());
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  server.delay(60s);  // every fetch now hangs until its own timeout
  p->signal(SIGHUP);
  REQUIRE(wait_until([&] { return a.status()["credentials"]["refresh_in_flight"] == true; }, 5s));
  const pid_t nats = a.status()["nats_server"]["pid"].get<pid_t>();
  REQUIRE(::kill(nats, SIGSTOP) == 0);  // answers nothing now
  // The next check (5 s apart while ready, each bounded by 1 s) finds it, refresh or not.
  const bool dropped = wait_until([&] { return !a.ready(); }, 9s);
  ::kill(nats, SIGCONT);
  CHECK_MESSAGE(dropped, p->err());
  CHECK(a.status()["credentials"]["refresh_in_flight"] == true);  // still waiting for the endpoint
  CHECK_MESSAGE(wait_until([&] { return a.ready(); }, 15s), p->err());
  CHECK(p->stop() == 0);
}

// Issue #20, defect 3: upstream.creds and the local boundary's files were written before
// nats.conf; when that last write failed, they stayed.
TEST_CASE("runner: a start whose last write fails leaves none of its files behind") {
  Hub hub;
  AgentSetup a(hub);
  a.toml["local"]["auth"] = "\"jwt\"";
  a.write_config();
  REQUIRE(::mkdir((a.dir / "state").c_str(), 0700) == 0);
  // nats.conf cannot be written: a non-empty folder holds its name.
  REQUIRE(::mkdir(a.state("nats.conf").c_str(), 0700) == 0);
  write_file(a.state("nats.conf/keep"), "x");
  const auto r = agent({"init", "-c", a.config_path()});
  CHECK(r.code == 3);
  CHECK_MESSAGE(r.err.find("cannot write " + a.state("nats.conf")) != std::string::npos, r.err);
  CHECK_FALSE(exists(a.state("upstream.creds")));
  CHECK_FALSE(exists(a.state("local.creds")));
  CHECK_FALSE(exists(a.state("health.creds")));
  CHECK(exists(a.state("nats.conf/keep")));  // not ours to remove
}

// Issue #20, defect 6: a creds file in a sub-folder of a Secret volume was watched through the
// sub-folder's symlink, i.e. in the old `..data` target: the swap went unseen until the schedule.
TEST_CASE("runner: a creds file in a sub-folder of a Secret volume is picked up at the ..data swap") {
  Hub hub;
  AgentSetup a(hub);
  // The kubelet's layout for a projected key path `sub/leaf.creds`:
  // sub -> ..data/sub, ..data -> ..v1, ..v1/sub/leaf.creds.
  const std::string secret = a.dir / "secret";
  for (const char* dir : {"", "/..v1", "/..v1/sub", "/..v2", "/..v2/sub"}) REQUIRE(::mkdir((secret + dir).c_str(), 0700) == 0);
  write_file(secret + "/..v1/sub/leaf.creds", mint_user_creds(hub, "hub/lattice.nk", 60));
  REQUIRE(::symlink("..v1", (secret + "/..data").c_str()) == 0);
  REQUIRE(::symlink("..data/sub", (secret + "/sub").c_str()) == 0);
  a.toml["credentials"] = {{"source", "\"file\""}, {"file", AgentSetup::quote(secret + "/sub/leaf.creds")}, {"min_lifetime", "\"2s\""}};
  auto p = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  std::string next_subject;
  write_file(secret + "/..v2/sub/leaf.creds", mint_user_creds(hub, "hub/lattice.nk", 3600, &next_subject));
  REQUIRE(::symlink("..v2", (secret + "/..data_tmp").c_str()) == 0);
  REQUIRE(::rename((secret + "/..data_tmp").c_str(), (secret + "/..data").c_str()) == 0);
  // Seen by the watch, well before the schedule (two thirds of 60 s) would look.
  CHECK_MESSAGE(wait_until([&] { return a.status()["credentials"]["subject"] == next_subject; }, 8s), p->err());
  // And a second swap, through the folders the first one replaced.
  std::string third_subject;
  REQUIRE(::mkdir((secret + "/..v3").c_str(), 0700) == 0);
  REQUIRE(::mkdir((secret + "/..v3/sub").c_str(), 0700) == 0);
  write_file(secret + "/..v3/sub/leaf.creds", mint_user_creds(hub, "hub/lattice.nk", 3600, &third_subject));
  REQUIRE(::symlink("..v3", (secret + "/..data_tmp").c_str()) == 0);
  REQUIRE(::rename((secret + "/..data_tmp").c_str(), (secret + "/..data").c_str()) == 0);
  CHECK_MESSAGE(wait_until([&] { return a.status()["credentials"]["subject"] == third_subject; }, 8s), p->err());
  CHECK(p->stop() == 0);
}

// Issue #20, defect 9: when a step after `nats-server -t` began failed (bad credentials), the
// candidate config was removed while -t could still be reading it.
TEST_CASE("runner: the candidate config stays until nats-server -t is done with it, whatever fails meanwhile") {
  Hub hub;
  AgentSetup a(hub);
  // A nats-server whose -t reads its config a moment late, and says whether it could.
  const std::string log = a.dir / "t.log";
  write_file(a.dir / "slow-nats",
             "#!/bin/sh\ncase \"$1\" in\n--version) echo 'nats-server: v2.10.27' ;;\n"
             "-t) sleep 0.3; if [ -r \"$3\" ]; then echo read >> " + log + "; else echo missing >> " + log + "; fi ;;\n"
             "esac\nexit 0\n", 0755);
  a.toml["agent"]["nats_server"] = AgentSetup::quote(a.dir / "slow-nats");
  write_file(a.dir / "bad.creds", "not credentials at all\n");
  a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "bad.creds");
  const Result r = agent({"init", "-c", a.write_config()});
  CHECK(r.code == 4);  // the credentials' failure, reported as such
  CHECK_MESSAGE(read_file(log) == "read\n", r.err);
  CHECK(file_mode(a.state("nats.conf.candidate")) == -1);  // and removed after
}
