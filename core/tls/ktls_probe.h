// Whether this kernel offers kernel TLS (the "tls" TCP upper layer protocol): tried once on
// a loopback connection made for the purpose. Main thread, at start.
#pragma once

#include <string>

namespace ringmq::tls {

struct KtlsProbe {
  bool available = false;
  std::string why;  // when not: the call that failed and its error
};

KtlsProbe ProbeKtls();

}  // namespace ringmq::tls
