#include "core/broker/exact_interest.h"

#include "absl/hash/hash.h"

#include "core/base/asserts.h"

namespace ringmq::broker {

uint64_t ExactInterest::Hash(std::string_view topic) {
  return absl::Hash<std::string_view>{}(topic);
}

uint64_t ExactInterest::ShardsOf(uint64_t hash) const {
  const auto it = shards_.find(hash);
  return it == shards_.end() ? 0 : it->second;
}

void ExactInterest::Apply(uint64_t hash, uint32_t shard, bool interested) {
  RINGMQ_DASSERT(shard < 64);
  if (interested) {
    Add(hash, shard);
  } else {
    Remove(hash, shard);
  }
}

void ExactInterest::Add(uint64_t hash, uint32_t shard) {
  const uint64_t bit = uint64_t{1} << shard;
  uint64_t& mask = shards_[hash];
  if ((mask & bit) != 0) {
    ++collisions_[{hash, shard}];  // another filter of that shard with the same hash
    return;
  }
  mask |= bit;
}

void ExactInterest::Remove(uint64_t hash, uint32_t shard) {
  if (const auto c = collisions_.find({hash, shard}); c != collisions_.end()) {
    if (--c->second == 0) {
      collisions_.erase(c);
    }
    return;  // a filter sharing the hash is still wanted
  }
  const auto it = shards_.find(hash);
  if (it == shards_.end()) {
    return;
  }
  it->second &= ~(uint64_t{1} << shard);
  if (it->second == 0) {
    shards_.erase(it);
    ShrinkIfSparse();
  }
}

void ExactInterest::ShrinkIfSparse() {
  // An absl table keeps its slots when entries go: give them back once three quarters of
  // them are empty, so a client that leaves with 100,000 filters leaves no table behind.
  if (shards_.capacity() >= kMinShrinkCapacity && shards_.size() * 4 < shards_.capacity()) {
    shards_.rehash(0);
  }
  if (collisions_.empty() && collisions_.capacity() >= kMinShrinkCapacity) {
    collisions_.rehash(0);
  }
}

}  // namespace ringmq::broker
