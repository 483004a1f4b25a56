// Telling systemd (a Type=notify service) that the broker is ready or stopping: the sd_notify
// protocol without libsystemd, one datagram to the socket named by $NOTIFY_SOCKET.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace ringmq::server {

// Sends `state` ("READY=1", "STOPPING=1": newline-separated assignments, see sd_notify(3)) to
// the AF_UNIX datagram socket $NOTIFY_SOCKET names: a path, or "@NAME" for an abstract one.
// Without $NOTIFY_SOCKET (not started by systemd, or not Type=notify) it does nothing and
// returns OK; an error says why the datagram could not be sent. Any thread.
absl::Status NotifyServiceManager(std::string_view state);

}  // namespace ringmq::server
