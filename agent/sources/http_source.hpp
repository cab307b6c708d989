// Fetch NATS credentials (.creds text) over HTTPS: a plain .creds body, a JSON body with
// {"creds": ...} or {"jwt", "seed"}, or a value inside a JSON document named by an RFC 6901
// pointer (e.g. Vault KV v2: "/data/data/creds"). libcurl easy API, HTTPS only, no redirects,
// proxy environment variables honoured as libcurl does by default.
//
// The response body is a secret: it is collected into wiping memory, parsed with a JSON type whose
// strings wipe too, never logged and never quoted in an error message.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/core/error.hpp"
#include "agent/core/secret.hpp"

namespace leaf::http_source {

struct Request {
  std::string url;            // must be https://, without user:pass@
  std::string json_pointer;   // "" : body is .creds text or JSON; else RFC 6901 pointer into JSON
  std::string token_file;     // bearer token read from this file at each fetch (whitespace trimmed)
  std::string ca_file;        // CA bundle for the endpoint; "" = system store
  std::string cert_file, key_file;  // optional client certificate (key_file "" = key in cert_file)
  std::chrono::milliseconds timeout{10000};   // per attempt, whole transfer
  int attempts = 4;                             // total attempts for retryable failures
  std::chrono::milliseconds backoff{500};       // first retry delay; doubles, +/- 20% jitter
  // The whole fetch, retries included, ends by this time point, and as soon as `cancelled()`
  // turns true (checked during transfers and between attempts).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled;
};

// Checks the parts of `req` that do not need the network: https:// URL with a host and without
// user info, a well-formed JSON pointer, attempts >= 1, timeout > 0, backoff >= 0, key_file only
// with cert_file. Throws leaf::config_error (e.g. "credentials.url must be https://").
void check(const Request& req);

// The body interpreter of fetch(), pure: the .creds text in `body` (see fetch() for the shapes).
// Throws Error(Exit::credentials) "credentials endpoint: bad body: <reason>" (never quoting the body).
SecretString interpret_body(const SecretString& body, const std::string& json_pointer);

// Returns the .creds text. With `json_pointer` set the body must be JSON and the pointer must name
// a string (the .creds text), an object with string members "jwt" and "seed" (formatted with
// leaf::creds::format) or an object with a string member "creds". Without it, a JSON object body
// must hold "creds" or "jwt"+"seed"; any other body is itself the .creds text. The text is not
// validated here (the caller does that).
//
// Throws leaf::config_error for a bad Request (see check()), otherwise Error(Exit::credentials)
// with one line starting "credentials endpoint: ":
//   "DNS: cannot resolve <host>"                                   retried
//   "connect failed to <host>:<port>: <reason>"                    retried
//   "timed out after <n>s"                                         retried
//   "HTTP <code> from <url without query>"                         retried for 5xx and 429 only
//   "TLS: certificate verify failed for <host> (<reason>)"         not retried
//   "TLS: ..." (handshake, CA file, client certificate problems)   not retried
//   "bad body: <reason>"                                           not retried
//   "token file: ..." / other transport failures                   not retried
// Retries wait `backoff`, doubling each time (capped at 60s), +/- 20% jitter. When more than one
// attempt was made the message ends with " (after N attempts)".
SecretString fetch(const Request& req);

}  // namespace leaf::http_source
