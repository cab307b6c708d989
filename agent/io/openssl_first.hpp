#pragma once
// OpenSSL's first call in the process, made without its exit-time cleanup.
//
// The upstream probes run on detached threads (a slow URL is not waited for once another has
// answered; preflight), and OPENSSL_cleanup, registered with atexit by OpenSSL's first
// initialisation, freed at exit the locks a probe still in its handshake then took: `leaf-agent
// init` with three upstream URLs died of SIGSEGV in pthread_rwlock_wrlock about once in 300.
// OpenSSL honours OPENSSL_INIT_NO_ATEXIT only on its first call, so every way in makes this call
// first: the lazy OpenSSL loader, the libcurl loader (libcurl initialises OpenSSL itself), and
// main where OpenSSL is linked in. The process's exit frees what the cleanup would have.
namespace leaf::openssl {
void first_call_without_atexit();  // idempotent, thread safe; nothing if libcrypto.so.3 is missing
}
