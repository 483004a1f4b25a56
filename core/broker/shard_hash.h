// Which shard owns what: a client's session (its home shard), a topic's retained message.
// (Shared groups are identified by their text, never by a hash: see shared_group_key.h.) The
// hashes are fixed functions of the bytes (no per-process seed),
// because sessions and retained messages are stored and must land on the same shard after a
// restart with the same shard count.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringmq::broker {

namespace shard_hash_internal {

// FNV-1a, 64 bits.
constexpr uint64_t Fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// FNV-1a alone spreads badly over a power-of-two shard count: its multiplier is odd, so the
// low bit of the hash is the parity of the bytes' low bits ("a-0", "a-2", ... all land on one
// of two shards) and two seeds give correlated results. A 64-bit finalizer (xor-shift and
// multiply rounds) makes every output bit depend on every input bit.
constexpr uint64_t Mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

// Maps a well-mixed hash to [0, n) using its high 32 bits (multiply-shift, no division).
constexpr uint32_t Reduce(uint64_t h, uint32_t n) {
  return static_cast<uint32_t>(((h >> 32) * n) >> 32);
}

}  // namespace shard_hash_internal

// The home shard of a client id: its session and connection live there.
constexpr uint32_t HomeShard(std::string_view client_id, uint32_t shards) {
  using namespace shard_hash_internal;
  return Reduce(Mix(Fnv1a(client_id)), shards);
}

// The shard holding the retained message of a topic. A different seed from HomeShard, so
// sessions and retained topics spread independently.
constexpr uint32_t RetainShard(std::string_view topic, uint32_t shards) {
  using namespace shard_hash_internal;
  return Reduce(Mix(Fnv1a(topic, 0x84222325cbf29ce4ull)), shards);
}

}  // namespace ringmq::broker
