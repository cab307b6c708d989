#include "agent/render.hpp"

#include "agent/error.hpp"

namespace leaf::render {

std::string escape_nats_string(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      throw config_error("a configuration value contains a control character (newline or similar); "
                         "remove it: values are written into the nats-server config");
    }
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string render(std::string_view tmpl, const Data& data, const std::string& template_name) {
  kainjow::mustache::mustache m{std::string(tmpl)};
  if (!m.is_valid()) throw config_error("template " + template_name + ": " + m.error_message());
  m.set_custom_escape([](const std::string& s) { return escape_nats_string(s); });
  std::string out = m.render(data);
  if (!m.is_valid()) throw config_error("template " + template_name + ": " + m.error_message());
  return out;
}

}  // namespace leaf::render
