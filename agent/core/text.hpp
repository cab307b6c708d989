// Text that came from outside (a child's output, a file, a peer) made safe for our one-line
// messages. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace leaf::text {

// One line of printable text: printable ASCII and well-formed UTF-8 (no C1 controls) are kept;
// line breaks and tabs become one space each run; every other byte (ESC, NUL, \xff, a lone
// continuation byte...) becomes \xNN, so no terminal escape sequence survives. Leading and
// trailing spaces are dropped. Longer than `max_bytes`: cut on a character boundary and "..."
// appended.
std::string one_line(std::string_view s, std::size_t max_bytes = 2000);

// Well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF). ASCII controls pass.
bool valid_utf8(std::string_view s);

}  // namespace leaf::text
