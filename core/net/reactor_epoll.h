// The epoll backend of Reactor, for hosts where io_uring is forbidden. Shard-local.
#pragma once

#include <memory>

#include "absl/status/statusor.h"

#include "core/net/reactor.h"

namespace ringmq::net {

absl::StatusOr<std::unique_ptr<Reactor>> CreateEpollReactor(const ReactorOptions& options,
                                                            IoHandler* handler);

}  // namespace ringmq::net
