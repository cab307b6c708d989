#include "agent/io/logging.hpp"


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

}  // namespace leaf::logging
