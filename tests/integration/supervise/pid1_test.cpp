// The agent as PID 1 of a pod would be used and abused: SIGTERM in every slow phase, a second
// agent on the same state_dir, the agent killed with SIGKILL, a host that leaves children
// behind, a ready file that cannot be written, hostile bytes in the config.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/config/render.hpp"
#include "agent/core/creds.hpp"

#include "agent_support.hpp"

using namespace harness;

namespace {
bool alive(pid_t pid) { return harness::running(pid); }  // an exited orphan waiting for PID 1 is not

// Pids whose command line contains `needle` (to find children of a killed agent).
// Sends SIGTERM once the agent has been in its slow phase for a moment; returns the exit code,
// or -1 when it did not exit within `limit` (generous: the rule is one second).
int term_after(Process& p, std::chrono::milliseconds settle, std::chrono::milliseconds limit = 3s) {
  std::this_thread::sleep_for(settle);
  REQUIRE_MESSAGE(p.running(), p.err());
  p.signal(SIGTERM);
  const auto code = p.wait(limit);
  return code ? *code : -1;
}
}  // namespace

TEST_CASE("pid1: SIGTERM ends the agent promptly in every slow phase") {
  Hub hub;
  SUBCASE("credentials file or template is a FIFO nobody writes: refused at once, never read") {
    AgentSetup a(hub);
    const std::string fifo = a.dir / "creds.fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    a.toml["credentials"]["file"] = AgentSetup::quote(fifo);
    auto p = a.start();
    const auto code = p->wait(5s);
    REQUIRE(code);
    CHECK(*code == 4);
    CHECK(p->err().find("not a regular file") != std::string::npos);
    AgentSetup b(hub);
    b.toml["agent"]["template"] = AgentSetup::quote(fifo);
    auto q = b.start();
    const auto code2 = q->wait(5s);
    REQUIRE(code2);
    CHECK(*code2 == 3);
  }
  SUBCASE("agent.nats_server whose -t never returns") {
    AgentSetup a(hub);
    const std::string fake = a.dir / "hang-server";
    write_file(fake, "#!/bin/sh\nexec sleep 1000\n", 0755);
    a.toml["agent"]["nats_server"] = AgentSetup::quote(fake);
    auto p = a.start();
    CHECK(term_after(*p, 1500ms) >= 0);
    CHECK(pids_with(a.dir.path() + "/hang-server").empty());  // its -t child went with it
  }
  SUBCASE("three hubs that accept TCP and never speak") {
    AgentSetup a(hub);
    SilentPort s1, s2, s3;
    a.toml["upstream"]["urls"] = "[\"" + s1.url() + "\", \"" + s2.url() + "\", \"" + s3.url() + "\"]";
    auto p = a.start();
    CHECK(term_after(*p, 1000ms) == 0);
  }
  SUBCASE("a credentials endpoint that accepts and never answers") {
    AgentSetup a(hub);
    SilentPort s;
    a.toml["credentials"]["source"] = "\"http\"";
    a.toml["credentials"]["url"] = AgentSetup::quote("https://127.0.0.1:" + std::to_string(s.port) + "/creds");
    a.toml["credentials"].erase("file");
    auto p = a.start();
    CHECK(term_after(*p, 1000ms) >= 0);
  }
}

TEST_CASE("pid1: ready_timeout bounds the whole start, preflight rounds included") {
  Hub hub;
  AgentSetup a(hub);
  SilentPort s1, s2, s3;
  a.toml["upstream"]["urls"] = "[\"" + s1.url() + "\", \"" + s2.url() + "\", \"" + s3.url() + "\"]";
  a.toml["agent"]["ready_timeout"] = "\"2s\"";
  const auto t0 = Clock::now();
  auto p = a.start();
  const auto code = p->wait(20s);
  const auto took = Clock::now() - t0;
  REQUIRE(code);
  CHECK(*code == 5);
  CHECK(p->err().find("NATS: no INFO") != std::string::npos);
  CHECK(took < 6s);  // 2 s and a little, never the 15 s of sequential 5 s probes
  CHECK(file_mode(a.state("upstream.creds")) == -1);
}

TEST_CASE("pid1: one agent per state_dir: the second changes nothing and names the first") {
  Hub hub;
  AgentSetup a(hub);
  auto first = a.start();
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), first->err());
  const std::string conf_before = read_file(a.state("nats.conf"));
  AgentSetup b(hub);
  b.toml["agent"]["state_dir"] = a.toml["agent"]["state_dir"];
  const Result r = agent({"run", "-c", b.write_config()});
  CHECK(r.code == 3);
  CHECK(r.err.find("is in use by leaf-agent pid " + std::to_string(first->pid())) != std::string::npos);
  CHECK(file_mode(a.state("ready")) != -1);  // the first one's ready file is still there
  CHECK(read_file(a.state("nats.conf")) == conf_before);
  CHECK(a.ready());
  CHECK(agent({"health", "-c", a.config_path()}).code == 0);
  CHECK(first->stop() == 0);
}

TEST_CASE("pid1: kill -9 of the agent takes nats-server and the host with it") {
  Hub hub;
  AgentSetup a(hub);
  const std::string marker = a.dir / "host-marker";
  auto p = a.start({"sh", "-c", "touch '" + marker + "'; exec sleep 1000"});
  REQUIRE_MESSAGE(wait_until([&] { return file_mode(marker) != -1; }, 30s), p->err());
  const auto st = a.status();
  const pid_t nats = st["nats_server"]["pid"].get<pid_t>();
  const pid_t host = st["host"]["pid"].get<pid_t>();
  REQUIRE(alive(nats));
  REQUIRE(alive(host));
  p->signal(SIGKILL);
  p->wait(5s);
  CHECK(wait_until([&] { return !alive(nats) && !alive(host); }, 5s));
}

TEST_CASE("pid1: at stop the host's own children go too, exit codes as a shell gives them") {
  Hub hub;
  SUBCASE("grandchildren are stopped with the host's process group") {
    AgentSetup a(hub);
    const std::string pidfile = a.dir / "grandchild.pid";
    auto p = a.start({"sh", "-c", "sleep 1000 & echo $! > '" + pidfile + "'; wait"});
    REQUIRE_MESSAGE(wait_until([&] { return read_file(pidfile).size() > 1; }, 30s), p->err());
    const pid_t grandchild = std::stoi(read_file(pidfile));
    REQUIRE(alive(grandchild));
    p->stop(20s);
    CHECK(wait_until([&] { return !alive(grandchild); }, 5s));
  }
  SUBCASE("a missing host command is 127, a non-executable one 126") {
    AgentSetup a(hub);
    auto p = a.start({"/nonexistent/host"});
    const auto code = p->wait(30s);
    REQUIRE(code);
    CHECK(*code == 127);
    CHECK(p->err().find("cannot start host `/nonexistent/host`") != std::string::npos);
    AgentSetup b(hub);
    const std::string plain = b.dir / "not-executable";
    write_file(plain, "echo hi\n", 0644);
    auto q = b.start({plain});
    const auto code2 = q->wait(30s);
    REQUIRE(code2);
    CHECK(*code2 == 126);
  }
  SUBCASE("a host killed by a signal is 128+N") {
    AgentSetup a(hub);
    auto p = a.start({"sh", "-c", "kill -USR1 $$"});
    const auto code = p->wait(30s);
    REQUIRE(code);
    CHECK(*code == 128 + SIGUSR1);
  }
}

TEST_CASE("pid1: a ready file that cannot be written does not take a healthy leaf down") {
  Hub hub;
  AgentSetup a(hub);
  // A directory where the ready file goes: every write of it fails, as on a full disk.
  REQUIRE(::mkdir((a.dir / "state").c_str(), 0700) == 0);
  REQUIRE(::mkdir(a.state("ready").c_str(), 0700) == 0);
  const std::string marker = a.dir / "host-started";
  auto p = a.start({"sh", "-c", "touch '" + marker + "'; exec sleep 1000"});
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  CHECK(wait_until([&] { return file_mode(marker) != -1; }, 10s));  // the host was started
  CHECK(p->err().find("cannot write the ready file") != std::string::npos);
  std::this_thread::sleep_for(300ms);
  CHECK(p->running());
  CHECK(a.ready());
  CHECK(p->stop(20s) == 143);  // sleep's own death by SIGTERM, passed through
}

TEST_CASE("pid1: probes answer valid JSON whatever bytes the config holds") {
  Hub hub;
  AgentSetup a(hub);
  // Invalid UTF-8 is refused when the config is read (exit 3, nothing started)...
  const Result bad = agent({"run", "-c", a.write_config()}, {{"LEAF_AGENT_AGENT_STATE_DIR", a.dir / "state-\xff\xfe"}});
  CHECK(bad.code == 3);
  CHECK(bad.err.find("not valid UTF-8") != std::string::npos);
  // ...and what is valid comes back intact in /status.
  auto p = a.start({}, {{"LEAF_AGENT_AGENT_STATE_DIR", a.dir / "state-caf\xc3\xa9-\xe2\x9c\x93"}});
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const auto r = http_get(a.health_url("/status"));
  CHECK(r.status == 200);
  CHECK(nlohmann::json::parse(r.body, nullptr, false).is_object());
  CHECK(r.body.find("state-caf\xc3\xa9-\xe2\x9c\x93") != std::string::npos);
  CHECK(p->running());
  CHECK(p->stop() == 0);
}

TEST_CASE("pid1: env credentials leave the agent's own environment at once") {
  Hub hub;
  AgentSetup a(hub);
  const std::string creds = read_file(hub.file("hub/leaf.creds"));
  a.toml["credentials"]["source"] = "\"env\"";
  a.toml["credentials"]["creds_env"] = "\"LEAF_TEST_CREDS\"";
  a.toml["credentials"].erase("file");
  auto p = a.start({}, {{"LEAF_TEST_CREDS", creds}});
  REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
  const std::string environ_text = read_file("/proc/" + std::to_string(p->pid()) + "/environ");
  const auto parsed = leaf::creds::parse(creds);
  const std::string seed(parsed.seed.begin(), parsed.seed.end());
  CHECK(environ_text.find(seed) == std::string::npos);  // zeroed in place, then unset
  CHECK(environ_text.find(parsed.jwt) == std::string::npos);
  CHECK(p->stop() == 0);
}

TEST_CASE("pid1: children get no descriptor of the agent's, and a forwarded USR1 reaches the host alone") {
  Hub hub;
  AgentSetup a(hub);
  const std::string out = a.dir / "host.out";
  // The host reports a USR1 while its own child keeps running.
  const std::string script = "sleep 1000 & child=$!; trap 'kill -0 $child && echo child_alive > \"" + out +
                             "\"' USR1; touch '" + out + ".armed'; while :; do sleep 0.05; done";
  auto p = a.start({"sh", "-c", script});
  REQUIRE_MESSAGE(wait_until([&] { return file_mode(out + ".armed") != -1; }, 30s), p->err());
  const auto st = a.status();
  for (const pid_t child : {st["host"]["pid"].get<pid_t>(), st["nats_server"]["pid"].get<pid_t>()}) {
    const std::string dir = "/proc/" + std::to_string(child) + "/fd";
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      const int fd = std::stoi(e.path().filename().string());
      const std::string target = std::filesystem::read_symlink(e.path()).string();
      // The agent's sockets (probe listener, the health client's connection) never cross exec.
      if (child == st["host"]["pid"].get<pid_t>()) CHECK_MESSAGE((fd <= 2 || target.rfind("socket:", 0) != 0), target);
    }
  }
  p->signal(SIGUSR1);
  CHECK(wait_until([&] { return read_file(out) == "child_alive\n"; }, 5s));
  CHECK(p->running());
  p->stop(20s);
}

TEST_CASE("pid1: nothing the host started outlives the agent's stop, and a planted creds file is refused") {
  Hub hub;
  AgentSetup a(hub);
  const std::string pidfile = a.dir / "stray.pid";
  // A child that ignores SIGTERM, and a daemon that left the host's session.
  auto p = a.start({"sh", "-c", "(trap '' TERM; exec sleep 1001) & echo $! > '" + pidfile +
                                    ".1'; setsid sleep 1002 & echo $! > '" + pidfile + ".2'; sleep 0.3; exit 0"});
  const auto code = p->wait(30s);
  REQUIRE_MESSAGE(code, p->err());
  CHECK(*code == 0);
  for (const char* n : {".1", ".2"}) {
    const pid_t stray = std::stoi(read_file(pidfile + n));
    CHECK_MESSAGE(wait_until([&] { return !alive(stray); }, 5s), n);
  }

  AgentSetup b(hub);
  auto q = b.start();
  REQUIRE_MESSAGE(wait_until([&] { return b.ready(); }, 30s), q->err());
  // Someone replaces upstream.creds, then nats-server dies: the restart refuses the planted file.
  write_file(b.state("upstream.creds.planted"), read_file(hub.file("hub/client.creds")), 0600);
  REQUIRE(::rename(b.state("upstream.creds.planted").c_str(), b.state("upstream.creds").c_str()) == 0);
  const pid_t nats = b.status()["nats_server"]["pid"].get<pid_t>();
  ::kill(nats, SIGKILL);
  const auto code2 = q->wait(30s);
  REQUIRE(code2);
  CHECK(*code2 == 6);
  CHECK(q->err().find("was changed or replaced by someone else") != std::string::npos);
}

TEST_CASE("pid1: init interrupted exits non-zero, and a SIGSTOPped nats-server is stopped promptly") {
  Hub hub;
  AgentSetup a(hub);
  SilentPort s;
  a.toml["upstream"]["urls"] = "[\"" + s.url() + "\"]";
  Process init({agent_bin(), "init", "-c", a.write_config()});
  std::this_thread::sleep_for(700ms);
  init.signal(SIGTERM);
  const auto code = init.wait(5s);
  REQUIRE(code);
  CHECK(*code == 128 + SIGTERM);
  CHECK(file_mode(a.state("nats.conf")) == -1);

  AgentSetup b(hub);
  auto p = b.start();
  REQUIRE_MESSAGE(wait_until([&] { return b.ready(); }, 30s), p->err());
  const pid_t nats = b.status()["nats_server"]["pid"].get<pid_t>();
  ::kill(nats, SIGSTOP);
  const auto t0 = Clock::now();
  CHECK(p->stop(20s) == 0);
  CHECK(Clock::now() - t0 < 5s);  // SIGCONT with the SIGTERM: not the 10 s stop timeout
}

TEST_CASE("bootstrap: what nats-server's parser refuses never reaches it, and a rejected config replaces nothing") {
  Hub hub;
  SUBCASE("credentials with CRLF line endings and a blank line in a block are written normalised and work") {
    AgentSetup a(hub);
    std::string text = read_file(hub.file("hub/leaf.creds"));
    std::string crlf;
    for (char ch : text) crlf += ch == '\n' ? std::string("\r\n") : std::string(1, ch);
    const size_t jwt_start = crlf.find("\r\n", crlf.find("BEGIN NATS USER JWT")) + 2;
    crlf.insert(jwt_start, "\r\n");  // a blank line inside the JWT block
    write_file(a.dir / "crlf.creds", crlf);
    a.toml["credentials"]["file"] = AgentSetup::quote(a.dir / "crlf.creds");
    auto p = a.start();
    REQUIRE_MESSAGE(wait_until([&] { return a.ready(); }, 30s), p->err());
    const std::string written = read_file(a.state("upstream.creds"));
    CHECK(written.find('\r') == std::string::npos);
    CHECK(written.find("-----BEGIN NATS USER JWT-----\ney") != std::string::npos);
    CHECK(p->stop() == 0);
  }
  SUBCASE("init: a config nats-server rejects leaves the good nats.conf in place") {
    AgentSetup a(hub);
    REQUIRE(agent({"init", "-c", a.write_config()}).code == 0);
    const std::string good = read_file(a.state("nats.conf"));
    // A template nats-server refuses (an unknown top-level key), but our own checks accept.
    write_file(a.dir / "bad.tmpl", std::string(leaf::render::builtin_template(leaf::config::Config{})) + "\nno_such_option: true\n");
    a.toml["agent"]["template"] = AgentSetup::quote(a.dir / "bad.tmpl");
    const Result r = agent({"init", "-c", a.write_config()});
    CHECK(r.code == 3);
    CHECK(r.err.find("nats-server rejected the rendered config") != std::string::npos);
    CHECK(read_file(a.state("nats.conf")) == good);
    CHECK(file_mode(a.state("nats.conf.candidate")) == -1);
  }
  SUBCASE("a nats-server that refuses its config at start: exit 3 with its words, no credentials left behind") {
    AgentSetup a(hub);
    // What nats-server prints before dying on a config it refuses (run no longer -t's the
    // built-in template first: the server's own refusal is the check).
    write_file(a.dir / "refusing-nats", "#!/bin/sh\necho \"nats-server: $2:7:3: unknown field \\\"frobnicate\\\"\" >&2\nexit 1\n", 0755);
    a.toml["agent"]["nats_server"] = AgentSetup::quote(a.dir / "refusing-nats");
    const Result r = agent({"run", "-c", a.write_config()});
    CAPTURE(r.err);
    CHECK(r.code == 3);
    CHECK(r.err.find("leaf-agent: nats-server rejected the rendered config: " + a.state("nats.conf") +
                     ":7:3: unknown field \"frobnicate\"; the installed nats-server is too old") != std::string::npos);
    CHECK(file_mode(a.state("upstream.creds")) == -1);
    CHECK(file_mode(a.state("nats.conf")) == -1);
  }
  SUBCASE("agent.nats_server = /bin/false: exit 6 saying what happened, no credentials left behind") {
    AgentSetup a(hub);
    a.toml["agent"]["nats_server"] = "\"/bin/false\"";
    const Result r = agent({"run", "-c", a.write_config()});
    CHECK(r.code == 6);
    CHECK(r.err.find("nats-server exited with code 1 before ready and said nothing; is agent.nats_server a nats-server binary?") !=
          std::string::npos);
    CHECK(file_mode(a.state("upstream.creds")) == -1);
  }
}
