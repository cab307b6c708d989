// The upstream probes run on detached threads that may outlive main: OpenSSL's exit-time cleanup
// must not free what such a thread is using, whichever way OpenSSL was first called
// (agent/io/openssl_first.hpp). Each case runs in a fresh process: a thread busy in OpenSSL
// (fetching a digest takes the library's locks) while main returns through exit().
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <thread>

#include "agent/io/openssl_first.hpp"
#include "agent/sources/curl_lazy.hpp"
#include "child.hpp"
#include "support/harness.hpp"

namespace {
int exit_while_a_thread_uses_openssl() {
  EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  std::thread([] {
    for (;;) {
      EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
      ERR_clear_error();
    }
  }).detach();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return 0;  // exit(): atexit handlers run while the thread works
}

// leaf-agent where OpenSSL is linked in: main makes the first call.
const leaf::test::RegisterChild linked("openssl-first-call", [] {
  leaf::openssl::first_call_without_atexit();
  return exit_while_a_thread_uses_openssl();
});
// The http source: loading libcurl and its curl_global_init, which initialises OpenSSL, come first.
const leaf::test::RegisterChild curl_first("openssl-after-curl", [] {
  if (leaf::curl::api().global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 3;
  return exit_while_a_thread_uses_openssl();
});
}  // namespace

TEST_CASE("openssl: a thread still in OpenSSL when the agent exits does not crash it") {
  for (const char* child : {"openssl-first-call", "openssl-after-curl"}) {
    for (int i = 0; i < 10; ++i) {
      // Its exit code, 128 + the signal that killed it, or the stop's after 30 s.
      const auto r = harness::run({"/proc/self/exe", "--child", child}, {}, "", std::chrono::seconds(30));
      CAPTURE(child);
      CAPTURE(i);
      CAPTURE(r.err);
      CHECK(r.code == 0);
    }
  }
}
