// ExactInterest: which other shards have plain subscribers of a filter without wildcards,
// found by the topic's hash. Shard-local (each shard holds the other shards' filters).
//
// Most filters of a fleet or a messenger name one topic ("devices/4711/cmd"). Holding a trie
// node (level name, parent, children) for each of them on every other shard costs about 70
// bytes per filter per shard; this table costs one 16-byte slot: the filter's hash and the
// shards that want it. A message is looked up with its topic's hash, once.
//
// Hashes collide, so the table can only say "maybe": a collision sends a message to a shard
// that matches it against its own trie (which holds the filter's text) and delivers nothing.
// It never loses one: two filters of one shard that share a hash are counted, and the shard's
// bit goes only when the last of them does. A shard announces a filter with count 1 when it
// gains its first subscriber and 0 when it loses its last (interest.h), so for one filter and
// one shard adds and removes alternate, which is what the counting relies on.
//
// The hash is absl::Hash, seeded per process: the same on every shard, not predictable from
// outside (a crafted collision would cost a forwarded message, nothing more).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace ringmq::broker {

class ExactInterest {
 public:
  static uint64_t Hash(std::string_view topic);

  // Shard `shard` has gained (`interested`) or lost its first/last subscriber of a filter
  // whose hash is `hash`.
  void Apply(uint64_t hash, uint32_t shard, bool interested);
  // The shards that may have plain subscribers of exactly `topic` (a bit per shard).
  uint64_t Shards(std::string_view topic) const { return ShardsOf(Hash(topic)); }
  uint64_t ShardsOf(uint64_t hash) const;

  bool empty() const { return shards_.empty(); }
  size_t size() const { return shards_.size(); }
  size_t capacity() const { return shards_.capacity(); }

 private:
  void Add(uint64_t hash, uint32_t shard);
  void Remove(uint64_t hash, uint32_t shard);
  void ShrinkIfSparse();

  static constexpr size_t kMinShrinkCapacity = 1024;

  absl::flat_hash_map<uint64_t, uint64_t> shards_;  // hash -> a bit per shard
  // (hash, shard) -> how many filters of that shard beyond the first share the hash.
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>, uint32_t> collisions_;
};

}  // namespace ringmq::broker
