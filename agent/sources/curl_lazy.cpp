#include "agent/sources/curl_lazy.hpp"

#include <dlfcn.h>

#include <string>

#include "agent/core/error.hpp"
#include "agent/io/openssl_first.hpp"

namespace leaf::curl {

namespace {
template <typename F>
void bind(void* lib, F& fn, const char* name) {
  void* sym = ::dlsym(lib, name);
  if (!sym) throw internal_error(std::string("libcurl.so.4 has no ") + name + " (libcurl >= 7.80 needed)");
  fn = reinterpret_cast<F>(sym);
}

Api load() {
  leaf::openssl::first_call_without_atexit();  // libcurl initialises OpenSSL: see openssl_first.hpp
  void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!lib) throw internal_error(std::string("cannot load libcurl (install libcurl4): ") + ::dlerror());
  Api a{};
  bind(lib, a.global_init, "curl_global_init");
  bind(lib, a.easy_strerror, "curl_easy_strerror");
  bind(lib, a.easy_init, "curl_easy_init");
  bind(lib, a.easy_setopt, "curl_easy_setopt");
  bind(lib, a.easy_perform, "curl_easy_perform");
  bind(lib, a.easy_getinfo, "curl_easy_getinfo");
  bind(lib, a.easy_cleanup, "curl_easy_cleanup");
  bind(lib, a.free, "curl_free");
  bind(lib, a.slist_append, "curl_slist_append");
  bind(lib, a.slist_free_all, "curl_slist_free_all");
  bind(lib, a.url, "curl_url");
  bind(lib, a.url_cleanup, "curl_url_cleanup");
  bind(lib, a.url_get, "curl_url_get");
  bind(lib, a.url_set, "curl_url_set");
  bind(lib, a.url_strerror, "curl_url_strerror");
  return a;  // the library stays loaded for the life of the process
}
}  // namespace

const Api& api() {
  static const Api a = load();  // C++ guarantees one thread-safe initialisation
  return a;
}

}  // namespace leaf::curl
