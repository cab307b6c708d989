#!/usr/bin/env bash
# check_agent_deps.sh BINARY static|nats: the shared libraries a LEAF_STATIC_DEPS leaf-agent loads
# at exec (ldd) are glibc's only; with "nats" (leaf-agent still links nats.c) also libnats and the
# shared OpenSSL it needs. Either way the binary exports no OpenSSL symbol: its lazy stubs
# (agent/preflight/openssl_lazy.cpp) must not stand in for libssl's own in a libcurl loaded later.
set -euo pipefail
bin=$1 mode=$2
allowed='^(linux-vdso\.so\.[0-9]+|libc\.so\.6|ld-linux[-a-z0-9_]*\.so\.[0-9]+)$'
[ "$mode" = nats ] && allowed='^(linux-vdso\.so\.[0-9]+|libc\.so\.6|libm\.so\.6|ld-linux[-a-z0-9_]*\.so\.[0-9]+|libnats\.so\.[0-9.]+|libssl\.so\.3|libcrypto\.so\.3|libprotobuf-c\.so\.[0-9]+)$'
bad=0
for lib in $(ldd "$bin" | awk '{print $1}' | xargs -n1 basename); do
  if ! grep -Eq "$allowed" <<<"$lib"; then echo "check_agent_deps: $bin loads $lib" >&2; bad=1; fi
done
if nm -D --defined-only "$bin" | grep -E ' (SSL|OPENSSL|EVP|X509|X509V3|ERR|BIO|BN|ASN1|PEM|RAND|GENERAL_NAMES?|TLS)_' >&2; then
  echo "check_agent_deps: $bin exports the OpenSSL symbols above" >&2; bad=1
fi
[ "$bad" = 0 ] && echo "check_agent_deps: $(ldd "$bin" | awk '{print $1}' | xargs -n1 basename | tr '\n' ' ')"
exit "$bad"
