// The io_uring backend of Reactor. Shard-local. See reactor.h for the contract and
// docs/architecture.md ("Engine") for how it uses the ring.
#pragma once

#include <memory>

#include "absl/status/statusor.h"

#include "core/net/reactor.h"

namespace ringmq::net {

absl::StatusOr<std::unique_ptr<Reactor>> CreateUringReactor(const ReactorOptions& options,
                                                            IoHandler* handler);

}  // namespace ringmq::net
