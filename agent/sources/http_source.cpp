// Credentials over HTTPS with libcurl's easy API: one fresh handle per attempt (fresh DNS and
// connection on retry), the body collected into a SecretString, JSON parsed into a basic_json whose
// strings (values, keys and the lexer's token buffer) are SecretStrings, so every copy of the secret
// we make is wiped when released. libcurl's own transfer buffers are outside our reach.
#include "agent/sources/http_source.hpp"

#include "agent/core/creds.hpp"
#include "agent/io/fs.hpp"

#include "agent/sources/curl_lazy.hpp"
#include <nlohmann/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#ifndef LEAF_AGENT_VERSION
#define LEAF_AGENT_VERSION "dev"
#endif

namespace leaf::http_source {
namespace {

using SecretJson = nlohmann::basic_json<std::map, std::vector, SecretString, bool, std::int64_t,
                                        std::uint64_t, double, WipingAllocator>;

constexpr std::string_view kPrefix = "credentials endpoint: ";
constexpr std::size_t kMaxBody = 1024 * 1024;  // no credential document is anywhere near this
constexpr long kMaxDelayMs = 60'000;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw internal_error("libsodium initialisation failed");
    const CURLcode rc = curl::api().global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      throw internal_error(std::string("libcurl initialisation failed: ") + curl::api().easy_strerror(rc));
    }
  });
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// ---- URL -------------------------------------------------------------------------------------

struct UrlParts {
  std::string host;     // as curl reports it ("[::1]" for IPv6 literals)
  std::string port;     // explicit or the scheme default
  std::string display;  // the URL without user info, query or fragment: safe for messages
};

struct UrlDeleter {
  void operator()(CURLU* u) const { curl::api().url_cleanup(u); }
};
using UrlPtr = std::unique_ptr<CURLU, UrlDeleter>;

bool has_part(CURLU* u, CURLUPart part) {
  char* p = nullptr;
  const CURLUcode rc = curl::api().url_get(u, part, &p, 0);
  if (p) curl::api().free(p);
  return rc == CURLUE_OK;
}

std::string get_part(CURLU* u, CURLUPart part, unsigned flags) {
  char* p = nullptr;
  if (curl::api().url_get(u, part, &p, flags) != CURLUE_OK || !p) {
    if (p) curl::api().free(p);
    return "";
  }
  std::string s(p);
  curl::api().free(p);
  return s;
}

UrlParts parse_url(const std::string& url) {
  const std::string_view scheme = "https://";
  const bool https_prefix =
      url.size() > scheme.size() &&
      std::equal(scheme.begin(), scheme.end(), url.begin(),
                 [](char a, char b) { return a == (b >= 'A' && b <= 'Z' ? char(b - 'A' + 'a') : b); });
  if (!https_prefix) throw config_error("credentials.url must be https://");

  UrlPtr u(curl::api().url());
  if (!u) throw internal_error("out of memory");
  const CURLUcode rc = curl::api().url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
  if (rc != CURLUE_OK) {
    throw config_error(std::string("credentials.url is not a valid URL: ") + curl::api().url_strerror(rc));
  }
  if (get_part(u.get(), CURLUPART_SCHEME, 0) != "https") {
    throw config_error("credentials.url must be https://");
  }
  if (has_part(u.get(), CURLUPART_USER) || has_part(u.get(), CURLUPART_PASSWORD) ||
      has_part(u.get(), CURLUPART_OPTIONS)) {
    throw config_error("credentials.url must not contain user:pass@ (use a bearer token file)");
  }
  UrlParts parts;
  parts.host = get_part(u.get(), CURLUPART_HOST, 0);
  if (parts.host.empty()) throw config_error("credentials.url has no host");
  parts.port = get_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  curl::api().url_set(u.get(), CURLUPART_QUERY, nullptr, 0);
  curl::api().url_set(u.get(), CURLUPART_FRAGMENT, nullptr, 0);
  parts.display = get_part(u.get(), CURLUPART_URL, 0);
  if (parts.display.empty()) parts.display = "https://" + parts.host;
  return parts;
}

UrlParts check_request(const Request& req) {
  UrlParts parts = parse_url(req.url);
  if (!req.json_pointer.empty()) {
    try {
      SecretJson::json_pointer p(SecretString(req.json_pointer.begin(), req.json_pointer.end()));
    } catch (const SecretJson::exception&) {
      throw config_error("credentials.json_pointer \"" + req.json_pointer +
                         "\" is not a JSON pointer (RFC 6901: \"/a/b\", ~0 for ~, ~1 for /)");
    }
  }
  if (req.attempts < 1) throw config_error("credentials: attempts must be at least 1");
  if (req.timeout.count() <= 0) throw config_error("credentials: timeout must be positive");
  if (req.backoff.count() < 0) throw config_error("credentials: backoff must not be negative");
  if (!req.key_file.empty() && req.cert_file.empty()) {
    throw config_error("credentials: a client key_file needs a cert_file");
  }
  return parts;
}

// ---- Bearer token ------------------------------------------------------------------------------

SecretString read_token(const std::string& path) {
  SecretString raw;
  try {
    raw = fs::read_secret_file(path, Exit::credentials);
  } catch (const Error& e) {
    throw Error(Exit::credentials, std::string(kPrefix) + "token file: " + e.what());
  }
  std::size_t b = 0, e = raw.size();
  while (b < e && is_space(raw[b])) ++b;
  while (e > b && is_space(raw[e - 1])) --e;
  if (b == e) throw creds_error(std::string(kPrefix) + "token file " + path + " is empty");
  for (std::size_t i = b; i < e; ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if (c <= 0x20 || c == 0x7f) {
      throw creds_error(std::string(kPrefix) + "token file " + path +
                        ": the token contains whitespace or control characters");
    }
  }
  return SecretString(raw, b, e - b);
}

// The request headers. curl_slist_append copies each line into malloc'd memory that we own until
// curl_slist_free_all: zero it first, since one line carries the bearer token.
class Headers {
 public:
  explicit Headers(const SecretString& token) {
    add("Accept: application/json, text/plain;q=0.9, */*;q=0.5");
    if (!token.empty()) {
      SecretString line = "Authorization: Bearer ";
      line += token;
      add(line.c_str());
    }
  }
  ~Headers() {
    for (curl_slist* n = list_; n; n = n->next) {
      if (n->data) sodium_memzero(n->data, std::strlen(n->data));
    }
    curl::api().slist_free_all(list_);
  }
  Headers(const Headers&) = delete;
  Headers& operator=(const Headers&) = delete;
  curl_slist* get() const { return list_; }

 private:
  void add(const char* line) {
    curl_slist* n = curl::api().slist_append(list_, line);
    if (!n) throw internal_error("out of memory");
    list_ = n;
  }
  curl_slist* list_ = nullptr;
};

// ---- One attempt -------------------------------------------------------------------------------

struct Outcome {
  bool ok = false;
  bool retry = false;
  std::string message;  // without the "credentials endpoint: " prefix
};

struct Sink {
  SecretString* body;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t len = size * n;
  if (len > kMaxBody - sink->body->size()) {
    sink->too_large = true;
    return 0;  // CURLE_WRITE_ERROR
  }
  sink->body->append(data, len);
  return len;
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl::api().easy_cleanup(h); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;

template <class T>
void set(CURL* h, CURLoption opt, T value) {
  const CURLcode rc = curl::api().easy_setopt(h, opt, value);
  if (rc != CURLE_OK) {
    throw internal_error(std::string("libcurl option ") + std::to_string(static_cast<int>(opt)) +
                         " refused: " + curl::api().easy_strerror(rc));
  }
}

std::string seconds_text(std::chrono::milliseconds ms) {
  const long long v = ms.count();
  std::string s = std::to_string(v / 1000);
  if (v % 1000 != 0) {
    std::string frac = std::to_string(v % 1000);
    frac.insert(0, 3 - frac.size(), '0');
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    s += "." + frac;
  }
  return s;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* req = static_cast<const Request*>(user);
  return (req->cancelled && req->cancelled()) || std::chrono::steady_clock::now() >= req->deadline ? 1 : 0;
}

Outcome attempt(const Request& req, const UrlParts& url, const Headers& headers, SecretString& body) {
  EasyPtr easy(curl::api().easy_init());
  if (!easy) throw internal_error("libcurl: cannot create a handle");
  CURL* h = easy.get();
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';
  Sink sink{&body};

  set(h, CURLOPT_ERRORBUFFER, errbuf);
  set(h, CURLOPT_URL, req.url.c_str());
  set(h, CURLOPT_PROTOCOLS_STR, "https");
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  set(h, CURLOPT_FOLLOWLOCATION, 0L);
  set(h, CURLOPT_HTTPGET, 1L);
  set(h, CURLOPT_NOSIGNAL, 1L);
  set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.timeout.count()));
  set(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  set(h, CURLOPT_SSL_VERIFYPEER, 1L);
  set(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!req.ca_file.empty()) set(h, CURLOPT_CAINFO, req.ca_file.c_str());
  if (!req.cert_file.empty()) set(h, CURLOPT_SSLCERT, req.cert_file.c_str());
  if (!req.key_file.empty()) set(h, CURLOPT_SSLKEY, req.key_file.c_str());
  set(h, CURLOPT_HTTPHEADER, headers.get());
  set(h, CURLOPT_USERAGENT, "leaf-agent/" LEAF_AGENT_VERSION);
  set(h, CURLOPT_WRITEFUNCTION, &on_body);
  set(h, CURLOPT_WRITEDATA, static_cast<void*>(&sink));
  set(h, CURLOPT_NOPROGRESS, 0L);  // the progress callback is how a stop or the deadline ends a slow transfer
  set(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
  set(h, CURLOPT_XFERINFODATA, const_cast<void*>(static_cast<const void*>(&req)));

  const CURLcode rc = curl::api().easy_perform(h);
  if (rc == CURLE_OK) {
    long code = 0;
    curl::api().easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) return {true, false, ""};
    return {false, (code >= 500 && code <= 599) || code == 429,
            "HTTP " + std::to_string(code) + " from " + url.display};
  }

  const std::string reason = errbuf[0] ? std::string(errbuf) : std::string(curl::api().easy_strerror(rc));
  const std::string hostport = url.host + ":" + url.port;
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return {false, true, "DNS: cannot resolve " + url.host};
    case CURLE_COULDNT_RESOLVE_PROXY:
      return {false, true, "DNS: cannot resolve the proxy (" + reason + ")"};
    case CURLE_COULDNT_CONNECT: {
      long os = 0;
      curl::api().easy_getinfo(h, CURLINFO_OS_ERRNO, &os);
      const std::string why =
          os != 0 ? std::system_category().message(static_cast<int>(os)) : reason;
      return {false, true, "connect failed to " + hostport + ": " + why};
    }
    case CURLE_ABORTED_BY_CALLBACK:
      return {false, false, req.cancelled && req.cancelled() ? "stopped" : "gave up at agent.ready_timeout"};
    case CURLE_OPERATION_TIMEDOUT:
      return {false, true, "timed out after " + seconds_text(req.timeout) + "s"};
    case CURLE_PEER_FAILED_VERIFICATION:
      return {false, false, "TLS: certificate verify failed for " + url.host + " (" + reason + ")"};
    case CURLE_SSL_CACERT_BADFILE:
      return {false, false, "TLS: cannot use CA file " + req.ca_file + " (" + reason + ")"};
    case CURLE_SSL_CERTPROBLEM:
      return {false, false, "TLS: client certificate problem (" + reason + ")"};
    case CURLE_SSL_CONNECT_ERROR:
      return {false, false, "TLS: handshake with " + hostport + " failed (" + reason + ")"};
    case CURLE_SEND_ERROR:
      return {false, false,
              "connection to " + hostport + " failed while sending the request (" + reason + ")"};
    case CURLE_RECV_ERROR:
      return {false, false,
              "connection to " + hostport + " failed while reading the response (" + reason + ")"};
    case CURLE_GOT_NOTHING:
      return {false, false, "empty reply from " + hostport};
    case CURLE_WRITE_ERROR:
      if (sink.too_large) {
        return {false, false, "bad body: larger than " + std::to_string(kMaxBody / 1024) + " KiB"};
      }
      break;
    default:
      break;
  }
  return {false, false, "transfer from " + hostport + " failed: " + reason};
}

// ---- Body --------------------------------------------------------------------------------------

struct BadBody {
  std::string reason;
};

const SecretString* string_member(const SecretJson& obj, const char* key) {
  const auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const SecretString&>();
}

// `where` names the value in messages ("the JSON body", "/data/data"); never its content.
SecretString from_value(const SecretJson& v, const std::string& where) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const SecretString&>();
    if (std::all_of(s.begin(), s.end(), is_space)) throw BadBody{where + " is an empty string"};
    return SecretString(s);
  }
  if (v.is_object()) {
    if (const SecretString* c = string_member(v, "creds"); c && !c->empty()) return SecretString(*c);
    const SecretString* jwt = string_member(v, "jwt");
    const SecretString* seed = string_member(v, "seed");
    if (jwt && seed && !jwt->empty() && !seed->empty()) return creds::format(*jwt, *seed);
    throw BadBody{where + " has neither a \"creds\" string nor \"jwt\" and \"seed\" strings"};
  }
  throw BadBody{where + " is a JSON " + v.type_name() + ", want a string or an object"};
}

SecretString interpret(const SecretString& body, const std::string& pointer) {
  const auto first = std::find_if_not(body.begin(), body.end(), is_space);
  if (first == body.end()) throw BadBody{"empty response"};

  if (!pointer.empty()) {
    const SecretJson doc = SecretJson::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) throw BadBody{"not JSON (json_pointer " + pointer + " needs a JSON body)"};
    const SecretJson::json_pointer ptr(SecretString(pointer.begin(), pointer.end()));
    bool found = false;
    try {
      found = doc.contains(ptr);
    } catch (const SecretJson::exception&) {
      found = false;
    }
    if (!found) throw BadBody{"JSON pointer " + pointer + " not found"};
    return from_value(doc.at(ptr), pointer);
  }

  if (*first == '{') {
    const SecretJson doc = SecretJson::parse(body.begin(), body.end(), nullptr, false);
    if (!doc.is_discarded() && doc.is_object()) return from_value(doc, "the JSON body");
  }
  return SecretString(body);
}

std::chrono::milliseconds retry_delay(std::chrono::milliseconds base, int retry) {
  // retry = 1 for the wait after the first attempt.
  double d = static_cast<double>(base.count());
  for (int i = 1; i < retry && d < kMaxDelayMs; ++i) d *= 2;
  d = std::min(d, std::max(static_cast<double>(kMaxDelayMs), static_cast<double>(base.count())));
  const double jitter = 0.8 + 0.4 * (static_cast<double>(randombytes_uniform(10001)) / 10000.0);
  return std::chrono::milliseconds(static_cast<long long>(d * jitter));
}

}  // namespace

void check(const Request& req) { (void)check_request(req); }

SecretString interpret_body(const SecretString& body, const std::string& json_pointer) {
  try {
    return interpret(body, json_pointer);
  } catch (const BadBody& b) {
    throw creds_error(std::string(kPrefix) + "bad body: " + b.reason);
  }
}

SecretString fetch(const Request& req) {
  const UrlParts url = check_request(req);
  global_init();
  const SecretString token = req.token_file.empty() ? SecretString() : read_token(req.token_file);
  const Headers headers(token);

  for (int n = 1;; ++n) {
    SecretString body;
    body.reserve(16 * 1024);  // growth copies the secret; start big enough for any creds document
    Outcome o = attempt(req, url, headers, body);
    if (o.ok) {
      try {
        return interpret(body, req.json_pointer);
      } catch (const BadBody& b) {
        o = {false, false, "bad body: " + b.reason};
      }
    }
    if (!o.retry || n >= req.attempts) {
      std::string msg = std::string(kPrefix) + o.message;
      if (n > 1) msg += " (after " + std::to_string(n) + " attempts)";
      throw creds_error(msg);
    }
    const auto wake = std::chrono::steady_clock::now() + retry_delay(req.backoff, n);
    while (std::chrono::steady_clock::now() < wake) {
      if ((req.cancelled && req.cancelled()) || std::chrono::steady_clock::now() >= req.deadline) {
        throw creds_error(std::string(kPrefix) + o.message + " (after " + std::to_string(n) + " attempts)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

}  // namespace leaf::http_source
