// libcurl loaded on first use (dlopen) instead of at exec: libcurl and the libraries it pulls in
// (GnuTLS, Kerberos, LDAP, SSH, ...; Debian builds them all with BIND_NOW) cost about 30 ms of
// dynamic linking at every start, and only the `http` credentials source needs them.
#pragma once

#include <curl/curl.h>

namespace leaf::curl {

struct Api {
  CURLcode (*global_init)(long);
  const char* (*easy_strerror)(CURLcode);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  void (*easy_cleanup)(CURL*);
  void (*free)(void*);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLU* (*url)();
  void (*url_cleanup)(CURLU*);
  CURLUcode (*url_get)(const CURLU*, CURLUPart, char**, unsigned int);
  CURLUcode (*url_set)(CURLU*, CURLUPart, const char*, unsigned int);
  const char* (*url_strerror)(CURLUcode);
};

// Loads libcurl.so.4 once (thread safe). Throws leaf::Error (internal) when it cannot.
const Api& api();

}  // namespace leaf::curl
