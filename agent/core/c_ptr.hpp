// unique_ptr for C library objects freed by a function (OpenSSL, libc): Ptr<SSL, SSL_free>.
#pragma once

#include <memory>

namespace leaf {

template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const { Free(p); }
};

template <class T, auto Free>
using Ptr = std::unique_ptr<T, FreeWith<Free>>;

}  // namespace leaf
