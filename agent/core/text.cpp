#include "agent/core/text.hpp"

#include <cstdio>

namespace leaf::text {

namespace {
// Length of the well-formed UTF-8 sequence at s[i] (2..4), or 0. Refuses overlongs, surrogates,
// values past U+10FFFF and the C1 controls U+0080..U+009F (terminals act on some of them).
std::size_t utf8_len(std::string_view s, std::size_t i, bool c1_ok = false) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n;
  unsigned cp;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  if (!c1_ok && cp >= 0x80 && cp <= 0x9f) return 0;
  return n;
}
}  // namespace

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_len(s, i, true);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string one_line(std::string_view s, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes) + 8);
  bool space = false;  // a pending run of whitespace
  bool cut = false;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::string piece;
    std::size_t step = 1;
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = true;
      ++i;
      continue;
    }
    if (c > 0x20 && c < 0x7f) {
      piece.assign(1, static_cast<char>(c));
    } else if (const std::size_t n = c >= 0x80 ? utf8_len(s, i) : 0; n > 0) {
      piece.assign(s.substr(i, n));
      step = n;
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      piece = b;
    }
    if (space && !out.empty()) piece.insert(piece.begin(), ' ');
    space = false;
    if (out.size() + piece.size() > max_bytes) {
      cut = true;
      break;
    }
    out += piece;
    i += step;
  }
  if (cut) out += "...";
  return out;
}

}  // namespace leaf::text
