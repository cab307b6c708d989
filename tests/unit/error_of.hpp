// The message of the leaf::Error that `f` throws, or "" if it throws none. Tests compare
// messages through this rather than CHECK_THROWS, which would print values (and seeds) on failure.
#pragma once

#include <string>

#include "agent/core/error.hpp"

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const leaf::Error& e) {
    return e.what();
  }
  return "";
}
