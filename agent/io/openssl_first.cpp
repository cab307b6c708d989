#include "agent/io/openssl_first.hpp"

#include <dlfcn.h>
#include <openssl/crypto.h>

#include <cstdint>

namespace leaf::openssl {

void first_call_without_atexit() {
  // The library already mapped where OpenSSL is linked in, else loaded here (libssl and libcurl
  // would load it next anyway); it stays for the life of the process.
  static const bool done = [] {
    void* lib = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return false;  // whoever needs OpenSSL says it is missing
    using Init = int (*)(std::uint64_t, const OPENSSL_INIT_SETTINGS*);
    if (auto init = reinterpret_cast<Init>(::dlsym(lib, "OPENSSL_init_crypto"))) init(OPENSSL_INIT_NO_ATEXIT, nullptr);
    return true;
  }();
  (void)done;
}

}  // namespace leaf::openssl
