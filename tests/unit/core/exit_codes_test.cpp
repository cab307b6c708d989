// The README's exit-code table is the one in error.hpp (which `--help` prints), row for row.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/core/error.hpp"

TEST_CASE("exit codes: the README table matches error.hpp, and the enum's codes are all in it") {
  std::ifstream in(std::string(LEAF_SOURCE_DIR) + "/README.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string readme = ss.str();
  const size_t start = readme.find("### Exit codes");
  REQUIRE(start != std::string::npos);
  const size_t end = readme.find("\n## ", start);
  const std::string section = readme.substr(start, end - start);
  std::vector<std::string> rows;
  std::istringstream lines(section);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) == 0 && line.find("| code |") != 0) rows.push_back(line);
  }
  REQUIRE(rows.size() == std::size(leaf::kExitTable));
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = leaf::kExitTable[i];
    CHECK(rows[i] == std::string("| ") + r.code + " | " + r.meaning + " |");
  }
  for (leaf::Exit e : {leaf::Exit::ok, leaf::Exit::failure, leaf::Exit::usage, leaf::Exit::config, leaf::Exit::credentials,
                       leaf::Exit::upstream, leaf::Exit::server, leaf::Exit::timeout, leaf::Exit::internal}) {
    bool found = false;
    for (const auto& r : leaf::kExitTable) found = found || std::to_string(static_cast<int>(e)) == r.code;
    CHECK_MESSAGE(found, static_cast<int>(e));
  }
}
