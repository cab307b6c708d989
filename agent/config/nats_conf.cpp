#include "agent/config/nats_conf.hpp"

#include <algorithm>
#include <cctype>

#include "agent/config/config.hpp"
#include "agent/core/error.hpp"

namespace leaf::config {

namespace {

constexpr int kMaxDepth = 32;

struct Fail {
  int line;
  std::string reason;
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  ConfNode document() {
    ConfNode root = body(0, '\0');
    if (i_ < s_.size()) fail("unexpected '" + std::string(1, s_[i_]) + "'");
    return root;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  int line_ = 1;

  [[noreturn]] void fail(const std::string& why) const { throw Fail{line_, why}; }
  bool at_end() const { return i_ >= s_.size(); }
  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  void advance() {
    if (s_[i_] == '\n') ++line_;
    ++i_;
  }
  void skip_comment() {
    while (!at_end() && peek() != '\n') advance();
  }
  bool at_comment() const { return peek() == '#' || (peek() == '/' && peek(1) == '/'); }
  // Blanks within a line; with `lines` also newlines and the separators ',' and ';'.
  void skip(bool lines) {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') advance();
      else if (lines && (c == '\n' || c == ',' || c == ';')) advance();
      else if (at_comment()) skip_comment();
      else break;
    }
  }

  ConfNode body(int depth, char close) {
    if (depth > kMaxDepth) fail("blocks nested too deeply");
    ConfNode m;
    m.kind = ConfNode::Kind::map;
    m.line = line_;
    for (;;) {
      skip(true);
      if (at_end()) {
        if (close != '\0') fail("missing '" + std::string(1, close) + "'");
        return m;
      }
      if (peek() == close && close != '\0') {
        advance();
        return m;
      }
      const int key_line = line_;
      std::string key = this->key();
      std::string lower = key;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == "include") fail("'include' is not allowed (what it pulls in could not be checked)");
      skip(false);
      if (peek() == '=' || peek() == ':') {
        advance();
        skip(false);
      }
      if (at_end() || peek() == '\n') fail("key " + key + " has no value");
      ConfNode v = value(depth + 1);
      v.line = key_line;
      m.keys.push_back(std::move(key));
      m.values.push_back(std::move(v));
    }
  }

  std::string key() {
    if (peek() == '"' || peek() == '\'') return quoted();
    std::string k;
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=' || c == ':' || c == '{' || c == '[' ||
          c == '}' || c == ']' || c == ',' || c == ';' || c == '"' || c == '\'' || c == '#') {
        break;
      }
      k += c;
      advance();
    }
    if (k.empty()) fail("expected a key, found '" + std::string(1, peek()) + "'");
    return k;
  }

  std::string quoted() {
    const char q = peek();
    advance();
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const char c = peek();
      if (c == q) {
        advance();
        return out;
      }
      if (c == '\n') fail("newline inside a quoted string");
      if (q == '"' && c == '\\') {
        advance();
        if (at_end()) fail("unterminated string");
        const char e = peek();
        advance();
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case 'x': {
            std::string hex;
            for (int k = 0; k < 2; ++k) {
              if (!std::isxdigit(static_cast<unsigned char>(peek()))) fail("bad \\x escape");
              hex += peek();
              advance();
            }
            out += static_cast<char>(std::stoi(hex, nullptr, 16));
            break;
          }
          default: fail(std::string("unknown escape \\") + e);
        }
        continue;
      }
      out += c;
      advance();
    }
  }

  ConfNode value(int depth) {
    if (depth > kMaxDepth) fail("blocks nested too deeply");
    ConfNode v;
    v.line = line_;
    const char c = peek();
    if (c == '{') {
      advance();
      return body(depth, '}');
    }
    if (c == '[') {
      advance();
      v.kind = ConfNode::Kind::array;
      for (;;) {
        skip(true);
        if (at_end()) fail("missing ']'");
        if (peek() == ']') {
          advance();
          return v;
        }
        v.items.push_back(value(depth + 1));
      }
    }
    if (c == '"' || c == '\'') {
      v.text = quoted();
      return v;
    }
    if (c == '(') {  // a block string: up to a ')' alone on a line
      v.kind = ConfNode::Kind::block;
      advance();
      for (;;) {
        if (at_end()) fail("unterminated block string");
        if (peek() == '\n') {
          advance();
          size_t k = 0;
          while (peek(k) == ' ' || peek(k) == '\t') ++k;
          if (peek(k) == ')') {
            for (size_t n = 0; n <= k; ++n) advance();
            return v;
          }
          v.text += '\n';
          continue;
        }
        v.text += peek();
        advance();
      }
    }
    while (!at_end()) {
      const char ch = peek();
      if (ch == '\n' || ch == ' ' || ch == '\t' || ch == '\r' || ch == ',' || ch == ';' || ch == ']' || ch == '}') break;
      if (ch == '{' || ch == '[' || ch == '"' || ch == '\'') fail(std::string("unexpected '") + ch + "' in a value");
      v.text += ch;
      advance();
    }
    if (v.text.empty()) fail("expected a value");
    if (v.text[0] == '$') {
      v.kind = ConfNode::Kind::variable;
      v.text.erase(0, 1);
    }
    return v;
  }
};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

struct Checker {
  const std::string& name;

  [[noreturn]] void refuse(int line, const std::string& what) const {
    throw config_error("template " + name + ", rendered line " + std::to_string(line) + ": " + what +
                       "; the leaf listens on loopback only (fix the template)");
  }

  // A "host:port" literal whose host is a loopback address.
  void loopback_address(const std::string& key, const ConfNode& v) const {
    if (v.kind != ConfNode::Kind::string) refuse(v.line, key + " must be a quoted \"host:port\" literal");
    std::string host;
    const std::string& t = v.text;
    if (!t.empty() && t[0] == '[') {
      const auto close = t.find(']');
      if (close == std::string::npos) refuse(v.line, key + " = \"" + t + "\" is not host:port");
      host = t.substr(1, close - 1);
    } else {
      const auto colon = t.rfind(':');
      if (colon == std::string::npos) refuse(v.line, key + " = \"" + t + "\" has no host (nats-server would bind 0.0.0.0)");
      host = t.substr(0, colon);
    }
    if (!is_loopback(host)) refuse(v.line, key + " = \"" + t + "\" is not a loopback address");
  }

  void loopback_host(const std::string& key, const ConfNode& v) const {
    if (v.kind != ConfNode::Kind::string || !is_loopback(v.text)) {
      refuse(v.line, key + " = \"" + v.text + "\" is not a loopback host");
    }
  }

  void top(const ConfNode& root) const {
    bool host_set = false;
    for (size_t i = 0; i < root.keys.size(); ++i) {
      const std::string& k = root.keys[i];
      const ConfNode& v = root.values[i];
      const std::string key = lower(k);
      if (key == "listen") loopback_address(k, v), host_set = true;
      else if (key == "host" || key == "net") loopback_host(k, v), host_set = true;
      else if (key == "http" || key == "https" || key == "monitor") loopback_address(k, v);
    }
    for (size_t i = 0; i < root.keys.size(); ++i) {
      const std::string& k = root.keys[i];
      const ConfNode& v = root.values[i];
      const std::string key = lower(k);
      if (key == "port" || key == "http_port" || key == "monitor_port" || key == "https_port") {
        if (!host_set) refuse(v.line, k + " without a loopback listen or host: nats-server would bind 0.0.0.0");
      } else if (key == "cluster" || key == "gateway" || key == "gateways" || key == "websocket" || key == "ws" ||
                 key == "mqtt" || key == "prof_port") {
        refuse(v.line, "a " + k + " block or listener is not allowed");
      } else if (key == "leafnodes" || key == "leaf") {
        if (v.kind != ConfNode::Kind::map) refuse(v.line, k + " must be a block");
        for (size_t j = 0; j < v.keys.size(); ++j) {
          const std::string& lk = v.keys[j];
          const ConfNode& lv = v.values[j];
          const std::string l = lower(lk);
          if (l == "listen" || l == "port" || l == "host" || l == "net") {
            refuse(lv.line, k + "." + lk + " would accept leaf node connections; the leaf only connects out");
          }
        }
      }
    }
    if (!host_set) refuse(1, "no listen address: nats-server would listen on 0.0.0.0:4222; add listen: \"127.0.0.1:4222\"");
  }
};

}  // namespace

ConfNode parse_nats_conf(std::string_view text) {
  try {
    return Parser(text).document();
  } catch (const Fail& f) {
    throw config_error("line " + std::to_string(f.line) + ": " + f.reason);
  }
}

void check_local_only(std::string_view rendered, const std::string& template_name) {
  ConfNode root;
  try {
    root = Parser(rendered).document();
  } catch (const Fail& f) {
    throw config_error("template " + template_name + ", rendered line " + std::to_string(f.line) +
                       ": cannot be checked: " + f.reason + " (fix the template)");
  }
  Checker{template_name}.top(root);
}

}  // namespace leaf::config
