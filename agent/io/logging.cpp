#include "agent/io/logging.hpp"

#include "agent/core/text.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <nlohmann/json.hpp>

namespace leaf::logging {

namespace {
// %* : the message as a JSON string (quotes included), so any message keeps the line valid JSON.
class JsonMessage : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string text = nlohmann::json(std::string(msg.payload.data(), msg.payload.size()))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

std::shared_ptr<spdlog::logger> make(const std::string& name) {
  if (auto l = spdlog::get(name)) return l;
  auto l = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  spdlog::register_logger(l);
  return l;
}
}  // namespace

void setup(const std::string& format, const std::string& level) {
  for (const auto& name : {"leaf-agent", "nats-server"}) {
    auto l = make(name);
    auto f = std::make_unique<spdlog::pattern_formatter>();
    if (format == "json") {
      f->add_flag<JsonMessage>('*').set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","logger":"%n","msg":%*})");
    } else {
      f->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
    }
    l->set_formatter(std::move(f));
    l->set_level(spdlog::level::from_str(level));
    l->flush_on(spdlog::level::trace);
  }
}

std::shared_ptr<spdlog::logger> agent() { return make("leaf-agent"); }
std::shared_ptr<spdlog::logger> nats_server() { return make("nats-server"); }

std::string relay_nats_line(const std::string& line) {
  // nats-server 2.9: "[1234] 2026/11/22 16:25:43.117540 [INF] message"
  static const std::pair<const char*, spdlog::level::level_enum> tags[] = {
      {" [INF] ", spdlog::level::info}, {" [WRN] ", spdlog::level::warn}, {" [ERR] ", spdlog::level::err},
      {" [DBG] ", spdlog::level::debug}, {" [TRC] ", spdlog::level::trace}, {" [FTL] ", spdlog::level::critical}};
  spdlog::level::level_enum lvl = spdlog::level::info;
  std::string msg = line;
  for (const auto& [tag, level] : tags) {
    const size_t at = line.find(tag);
    if (at != std::string::npos && at < 40) {  // the tag follows pid and time, never deep in a message
      lvl = level;
      msg = line.substr(at + 7);
      break;
    }
  }
  // The child's bytes reach our log and our one-line errors: no raw escapes or invalid bytes.
  msg = text::one_line(msg);
  // The agent's own probe connects every few seconds; in operator mode (local.auth = jwt) the
  // server notes each connection at info. Only info lines about that client go to debug.
  if (lvl == spdlog::level::info && msg.find(":leaf-agent health\" - ") != std::string::npos) lvl = spdlog::level::debug;
  nats_server()->log(lvl, msg);
  return msg;
}

}  // namespace leaf::logging
