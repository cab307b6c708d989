// Memory that held a secret is wiped when it is released. Seeds, .creds text and HTTP bodies
// that carry them live in these types; libsodium's sodium_memzero cannot be optimised away.
#pragma once

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace leaf {

template <class T>
struct WipingAllocator {
  using value_type = T;
  WipingAllocator() noexcept = default;
  template <class U>
  WipingAllocator(const WipingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
  void deallocate(T* p, std::size_t n) noexcept {
    sodium_memzero(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const WipingAllocator<U>&) const noexcept { return true; }
};

// A string whose heap buffer is zeroed on every (re)allocation release. Strings shorter than
// the small-string buffer never reach the heap; every secret we hold is longer (a seed is 58).
using SecretString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;
using SecretBytes = std::vector<std::uint8_t, WipingAllocator<std::uint8_t>>;

// Zero a plain std::string that briefly held a secret (e.g. a library gave us one).
inline void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
  s.shrink_to_fit();
}

}  // namespace leaf
