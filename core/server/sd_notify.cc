#include "core/server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_format.h"

namespace ringmq::server {

absl::Status NotifyServiceManager(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') {
    return absl::OkStatus();
  }
  const std::string_view name(env);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || name.size() >= sizeof addr.sun_path) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "NOTIFY_SOCKET=%s: not an absolute path or an @abstract name that fits", name));
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') {
    addr.sun_path[0] = '\0';  // an abstract socket: the name is the bytes after the NUL
  }
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, "NOTIFY_SOCKET: socket");
  }
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&addr), len);
  const int error = errno;
  close(fd);
  if (sent != static_cast<ssize_t>(state.size())) {
    return absl::ErrnoToStatus(sent < 0 ? error : EMSGSIZE,
                               absl::StrFormat("NOTIFY_SOCKET=%s: sending %s", name, state));
  }
  return absl::OkStatus();
}

}  // namespace ringmq::server
