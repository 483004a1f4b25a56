// ShardOwned: a debug check that state owned by one shard is touched only on that shard's
// thread (Seastar's debug pointer check, for our thread-per-core rule). Objects that belong to
// a shard inherit it and call AssertOnOwnShard() where they change; in release builds the
// check compiles to nothing. Threads that are not shards (tests stepping shards by hand set
// the current shard as they step) fail the check.
#pragma once

#include <cstdint>

#include "core/base/asserts.h"
#include "core/shard/shard.h"

namespace ringmq::shard {

class ShardOwned {
 public:
  explicit ShardOwned(uint32_t owner) : owner_(owner) {}

  void AssertOnOwnShard() const {
#ifndef NDEBUG
    const Shard* current = Shard::Current();
    RINGMQ_ASSERT(current != nullptr && current->index() == owner_);
#endif
  }
  uint32_t owner_shard() const {
    return owner_;
  }

 private:
  uint32_t owner_;
};

}  // namespace ringmq::shard
