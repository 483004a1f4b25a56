#include "core/tls/ktls_probe.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_format.h"

namespace ringmq::tls {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      close(fd);
    }
  }
};

std::string Error(const char* call) {
  return absl::StrFormat("%s: %s", call, std::strerror(errno));
}

}  // namespace

KtlsProbe ProbeKtls() {
  // TCP_ULP needs an established connection: a loopback listener and one connection to it.
  Fd listener{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (listener.fd < 0 || bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      listen(listener.fd, 1) != 0 ||
      getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return {false, Error("loopback listener")};
  }
  Fd client{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (client.fd < 0 || connect(client.fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return {false, Error("connect")};
  }
  Fd accepted{accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC)};
  if (setsockopt(client.fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof "tls") != 0) {
    return {false, Error("setsockopt(TCP_ULP, \"tls\")")};
  }
  return {true, ""};
}

}  // namespace ringmq::tls
