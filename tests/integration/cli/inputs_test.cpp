// Hostile input through the real binary (issue #8): each class gets one line naming the problem,
// the README's exit code, and nothing started, written or left behind. No hub is needed: every
// refusal here happens before the agent would contact one.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "agent/core/creds.hpp"
#include "agent/core/jwt.hpp"
#include "agent/core/nkeys.hpp"
#include "support/harness.hpp"

using namespace harness;
namespace sfs = std::filesystem;

namespace {

// Well-formed leaf creds for a throwaway account (the agent refuses them before any hub matters).
std::string minted_creds() {
  const auto account = leaf::nkeys::KeyPair::generate(leaf::nkeys::KeyType::account);
  const auto user = leaf::nkeys::KeyPair::generate(leaf::nkeys::KeyType::user);
  leaf::jwt::UserSpec s{"t", user.public_key(), std::nullopt, "", {"LEAFNODE"}, {}, {}};
  const auto text = leaf::creds::format(leaf::jwt::sign(leaf::jwt::user_claims(s), account, std::time(nullptr)), user.seed());
  return std::string(text.begin(), text.end());
}

struct Setup {
  TempDir dir;
  int listen = free_port();
  std::map<std::string, std::map<std::string, std::string>> toml;
  Setup() {
    write_file(dir / "leaf.creds", minted_creds());
    toml["upstream"]["urls"] = "[\"tls://127.0.0.1:" + std::to_string(free_port()) + "\"]";
    toml["credentials"]["file"] = q(dir / "leaf.creds");
    toml["local"]["listen"] = q("127.0.0.1:" + std::to_string(listen));
    toml["local"]["monitor"] = q("127.0.0.1:" + std::to_string(free_port()));
    toml["agent"]["state_dir"] = q(dir / "state");
    toml["agent"]["health_listen"] = q("127.0.0.1:" + std::to_string(free_port()));
    toml["agent"]["ready_timeout"] = "\"20s\"";
  }
  static std::string q(const std::string& s) { return "\"" + s + "\""; }
  std::string config() {
    std::string text;
    for (const auto& [section, keys] : toml) {
      text += "[" + section + "]\n";
      for (const auto& [k, v] : keys) text += k + " = " + v + "\n";
    }
    write_file(dir / "agent.toml", text, 0644);
    return dir / "agent.toml";
  }
  std::vector<std::string> init() { return {"init", "-c", config()}; }
  std::string state(const std::string& n) const { return dir / ("state/" + n); }

  // `args` (default: run -c agent.toml) must fail with `code` and one line holding `part`,
  // having started, written and left nothing.
  Result refused(int code, const std::string& part, std::vector<std::string> args = {}) {
    if (args.empty()) args = {"run", "-c", config()};
    const Result r = agent(args, {}, "", 30s);
    CAPTURE(r.err);
    CHECK(r.code == code);
    std::string err = r.err;
    while (!err.empty() && err.back() == '\n') err.pop_back();
    const std::string last = err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1);
    CHECK(last.rfind("leaf-agent: ", 0) == 0);
    CHECK(last.find(part) != std::string::npos);
    CHECK(file_mode(state("upstream.creds")) == -1);
    CHECK(file_mode(state("nats.conf")) == -1);
    CHECK(file_mode(state("ready")) == -1);
    CHECK(http_get("http://127.0.0.1:" + std::to_string(listen) + "/", 300ms).status == 0);
    return r;
  }
};

}  // namespace

TEST_CASE("inputs: credentials nats-server would misread are refused as credentials errors") {
  Setup s;
  const std::string good = read_file(s.dir / "leaf.creds");
  const std::string jwt_block = good.substr(0, good.find("\n\n") + 1);
  SUBCASE("two JWT blocks") {
    write_file(s.dir / "leaf.creds", jwt_block + good);
    s.refused(4, "two JWT blocks");
  }
  SUBCASE("two lines in the JWT block") {
    const auto end = good.find("\n------END NATS USER JWT");
    write_file(s.dir / "leaf.creds", good.substr(0, end) + "\nextra" + good.substr(end));
    s.refused(4, "the JWT block holds more than one line");
  }
}

// `init` writes without contacting the hub (`run` checks the hub is reachable first).
TEST_CASE("inputs: state_dir must be ours, private and not reached through a symlink") {
  Setup s;
  SUBCASE("writable by others: refused and left as it was") {
    sfs::create_directory(s.dir / "state");
    ::chmod(s.state("").c_str(), 0777);
    s.refused(3, "writable by group or others (mode 0777)", s.init());
    CHECK(file_mode(s.state("")) == 0777);
  }
  SUBCASE("/tmp itself") {
    s.toml["agent"]["state_dir"] = "\"/tmp\"";
    s.refused(3, "refusing to use /tmp", s.init());
  }
  SUBCASE("a symlink spelled link/.") {
    sfs::create_directory(s.dir / "real");
    ::chmod((s.dir / "real").c_str(), 0700);
    sfs::create_directory_symlink(s.dir / "real", s.dir / "link");
    s.toml["agent"]["state_dir"] = Setup::q(s.dir / "link/.");
    s.refused(3, "it is a symlink", s.init());
    CHECK(file_mode(s.dir / "real/upstream.creds") == -1);
  }
  SUBCASE("owned by another user") {
    if (::geteuid() != 0) return;  // only root can arrange it
    sfs::create_directory(s.dir / "state");
    ::chmod(s.state("").c_str(), 0700);
    REQUIRE(::chown(s.state("").c_str(), 65534, 65534) == 0);
    s.refused(3, "owned by uid 65534", s.init());
    CHECK(file_mode(s.state("")) == 0700);
  }
  SUBCASE("'$' that nats-server would expand") {
    s.toml["agent"]["state_dir"] = Setup::q(s.dir / "$HOME/state");
    s.refused(3, "contains '$'", s.init());
    CHECK_FALSE(sfs::exists(s.dir / "$HOME"));
  }
}

TEST_CASE("inputs: files that are not regular files, or too large, are refused at once") {
  Setup s;
  REQUIRE(::mkfifo((s.dir / "fifo").c_str(), 0600) == 0);
  SUBCASE("credentials file is a FIFO") {
    s.toml["credentials"]["file"] = Setup::q(s.dir / "fifo");
    s.refused(4, "not a regular file (a FIFO)");
  }
  SUBCASE("credentials file is /dev/zero") {
    s.toml["credentials"]["file"] = "\"/dev/zero\"";
    s.refused(4, "not a regular file (a character device)");
  }
  SUBCASE("credentials file is too large") {
    write_file(s.dir / "big.creds", std::string(2 * 1024 * 1024, 'A'));
    s.toml["credentials"]["file"] = Setup::q(s.dir / "big.creds");
    s.refused(4, "is too large");
  }
  SUBCASE("-c is /dev/zero, a FIFO, a directory") {
    s.refused(3, "/dev/zero: not a regular file (a character device)", {"run", "-c", "/dev/zero"});
    s.refused(3, "not a regular file (a FIFO)", {"run", "-c", s.dir / "fifo"});
    s.refused(3, "cannot read " + s.dir.path() + ": not a regular file (a directory)", {"run", "-c", s.dir.path()});
  }
  SUBCASE("agent.template is a FIFO") {
    s.toml["agent"]["template"] = Setup::q(s.dir / "fifo");
    s.refused(3, "not a regular file (a FIFO)");
  }
  SUBCASE("upstream.ca_file is /dev/zero") {
    s.toml["upstream"]["ca_file"] = "\"/dev/zero\"";
    s.refused(3, "CA file /dev/zero");
  }
  SUBCASE("token file is a FIFO") {
    s.toml["credentials"] = {{"source", "\"http\""},
                             {"url", Setup::q("https://127.0.0.1:" + std::to_string(free_port()) + "/creds")},
                             {"token_file", Setup::q(s.dir / "fifo")}};
    s.refused(4, "not a regular file (a FIFO)");
  }
  SUBCASE("account seed file is a FIFO") {
    s.toml["credentials"] = {{"source", "\"signer\""}, {"account_seed_file", Setup::q(s.dir / "fifo")}};
    s.refused(4, "not a regular file (a FIFO)");
  }
}

TEST_CASE("inputs: durations beyond reason are refused") {
  Setup s;
  s.toml["agent"]["ready_timeout"] = "\"200000d\"";
  s.refused(3, "agent.ready_timeout");
  s.toml["agent"]["ready_timeout"] = "\"0\"";
  s.refused(3, "agent.ready_timeout must be more than 0");
  s.refused(2, "--timeout", {"wait", "--dev", "--timeout", "99999999999999d"});
}

TEST_CASE("inputs: a template cannot break the loopback-only, no-cluster promise") {
  Setup s;
  const std::string base = "listen: \"{{listen}}\"\nhttp: \"{{monitor}}\"\n";
  SUBCASE("listen on 0.0.0.0") {
    write_file(s.dir / "t.tmpl", "listen: \"0.0.0.0:{{listen}}\"\n", 0644);
    s.toml["agent"]["template"] = Setup::q(s.dir / "t.tmpl");
    s.refused(3, "is not a loopback address");
    s.refused(3, "is not a loopback address", {"render", "-c", s.config()});
  }
  SUBCASE("a cluster block") {
    write_file(s.dir / "t.tmpl", base + "cluster {\n  listen: \"127.0.0.1:6222\"\n}\n", 0644);
    s.toml["agent"]["template"] = Setup::q(s.dir / "t.tmpl");
    s.refused(3, "a cluster block or listener is not allowed");
  }
  SUBCASE("an unescaped tag") {
    write_file(s.dir / "t.tmpl", "listen: \"{{{listen}}}\"\n", 0644);
    s.toml["agent"]["template"] = Setup::q(s.dir / "t.tmpl");
    s.refused(3, "{{{ }}} emits a value unescaped");
  }
  SUBCASE("the built-in template still renders") {
    const Result r = agent({"render", "-c", s.config()});
    CHECK(r.code == 0);
  }
}

TEST_CASE("inputs: command-line and message hygiene") {
  Setup s;
  SUBCASE("--health-listen \"\" disables the listener, as --help says") {
    const Result r = agent({"config", "-c", s.config(), "--health-listen", ""});
    REQUIRE(r.code == 0);
    CHECK(r.out.find("\"health_listen\": \"\"") != std::string::npos);
  }
  SUBCASE("10,000 upstream URLs: one error, no probing") {
    std::string urls;
    for (int i = 0; i < 10000; ++i) urls += (urls.empty() ? "\"" : ", \"") + std::string("tls://10.0.0.1:") + std::to_string(1000 + i) + "\"";
    s.toml["upstream"]["urls"] = "[" + urls + "]";
    const Result r = s.refused(3, "upstream.urls has 10000 URLs, more than 32");
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  SUBCASE("a child's bytes and escape sequences do not reach the terminal raw") {
    write_file(s.dir / "fake-nats", "#!/bin/sh\nprintf 'bad \\377 \\033[2J\\033]0;owned\\007\\nsecond line\\n'\nexit 1\n", 0755);
    const Result r = agent({"init", "--dev", "--state-dir", s.dir / "dev", "--nats-server", s.dir / "fake-nats"});
    CHECK(r.code == 3);
    CAPTURE(r.err);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\xff') == std::string::npos);
    CHECK(r.err.find('\x07') == std::string::npos);
    CHECK(r.err.find("bad \\xff \\x1b[2J\\x1b]0;owned\\x07 second line") != std::string::npos);
  }
  SUBCASE("nor do they when nats-server dies before ready (its lines are relayed and quoted)") {
    write_file(s.dir / "fake-nats",
               "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = -t ] && exit 0; done\nprintf '[1] 2026/11/23 10:00:00.000000 [FTL] bad \\377 \\033[2J\\n'\nexit 1\n",
               0755);
    const Result r = agent({"run", "--dev", "--state-dir", s.dir / "dev", "--nats-server", s.dir / "fake-nats",
                            "--listen", "127.0.0.1:" + std::to_string(s.listen), "--health-listen", ""});
    CAPTURE(r.err);
    CHECK(r.code == 6);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK(r.err.find('\xff') == std::string::npos);
    CHECK(r.err.find("bad \\xff \\x1b[2J") != std::string::npos);
  }
}

TEST_CASE("inputs: a write interrupted by kill -9 leaves nothing behind at the next start") {
  Setup s;
  sfs::create_directory(s.dir / "dev");
  ::chmod((s.dir / "dev").c_str(), 0700);
  write_file(s.dir / "dev/upstream.creds.tmp.12345", "-----BEGIN USER NKEY SEED-----\nSU...\n");
  write_file(s.dir / "dev/nats.conf.tmp.7", "partial");
  write_file(s.dir / "dev/notes.txt", "not ours to remove");
  const Result r = agent({"init", "--dev", "--state-dir", s.dir / "dev", "--health-listen", ""});
  CAPTURE(r.err);
  CHECK(r.code == 0);
  CHECK(file_mode(s.dir / "dev/upstream.creds.tmp.12345") == -1);
  CHECK(file_mode(s.dir / "dev/nats.conf.tmp.7") == -1);
  CHECK(file_mode(s.dir / "dev/notes.txt") != -1);
  CHECK(file_mode(s.dir / "dev/nats.conf") == 0600);
}

TEST_CASE("inputs: server names are unique per agent, settable, and no tls server_name is written") {
  Setup a, b;
  const Result ra = agent({"render", "-c", a.config()});
  const Result rb = agent({"render", "-c", b.config()});
  REQUIRE(ra.code == 0);
  REQUIRE(rb.code == 0);
  auto name_of = [](const std::string& conf) {
    const auto at = conf.find("server_name: \"");
    return conf.substr(at + 14, conf.find('"', at + 14) - at - 14);
  };
  CHECK(name_of(ra.out).rfind("leaf-", 0) == 0);
  CHECK(name_of(ra.out) != name_of(rb.out));
  CHECK(ra.out.find("server_name", ra.out.find("tls {")) == std::string::npos);
  a.toml["agent"]["server_name"] = "\"edge-7\"";
  const Result set = agent({"render", "-c", a.config()});
  CHECK(name_of(set.out) == "edge-7");
  a.toml["upstream"]["server_name"] = "\"hub.example\"";
  a.refused(3, "upstream.server_name is not supported");
}
