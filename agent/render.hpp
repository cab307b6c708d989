// Logic-less templates (mustache, kainjow's) for nats-server configs. Every {{value}} is
// escaped for a double-quoted NATS config string, so no value can add or close a block.
#pragma once

#include <kainjow/mustache.hpp>

#include <string>
#include <string_view>

namespace leaf::render {

using Data = kainjow::mustache::data;

// Escapes `value` for use between double quotes in a NATS config file: backslash and quote are
// escaped; control characters (newline included) are refused with Error(Exit::config).
std::string escape_nats_string(std::string_view value);

// Renders `tmpl` with `data`. A template that does not parse is Error(Exit::config) naming
// `template_name` and the parser's reason.
std::string render(std::string_view tmpl, const Data& data, const std::string& template_name);

}  // namespace leaf::render
