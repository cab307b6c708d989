// The upstream probes run on detached threads that may outlive main (preflight.hpp): OpenSSL's
// exit-time cleanup must not free what such a thread is using.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "agent/preflight/preflight.hpp"

namespace {
// In a child: a thread busy in OpenSSL (fetching a digest takes the library's locks) while the
// main thread returns through exit(). Its wait status. (With OpenSSL's own atexit cleanup, the
// child died of SIGSEGV or SIGABRT in the first or second of these runs.)
int exit_while_a_thread_uses_openssl() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    leaf::preflight::openssl_without_atexit();
    EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
    std::thread([] {
      for (;;) {
        EVP_MD_free(EVP_MD_fetch(nullptr, "SHA256", nullptr));
        ERR_clear_error();
      }
    }).detach();
    ::usleep(20000);
    std::exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}
}  // namespace

TEST_CASE("preflight: a thread still in OpenSSL when the agent exits does not crash it") {
  for (int i = 0; i < 20; ++i) {
    const int status = exit_while_a_thread_uses_openssl();
    CAPTURE(i);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}
