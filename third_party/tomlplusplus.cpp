// toml++'s implementation, from Debian's libtomlplusplus-dev headers, so nothing links
// libtomlplusplus.so. Every other TU that includes toml++ sees TOML_HEADER_ONLY=0 (declarations).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
