// Envelope: the one message type that crosses between shards (through SpscRing mailboxes).
// Plain data, 32 bytes, copied by value. Whatever `ptr` points to belongs to the receiver
// once the envelope is delivered (or to ShardApp::OnDiscard if it never is).
//
// Kinds below kEngineKindBase are the application's; the engine reserves the rest.
#pragma once

#include <cstdint>

namespace ringmq::shard {

struct Envelope {
  uint32_t kind = 0;
  uint32_t from = 0;  // sending shard, filled in by Shard::Send (UINT32_MAX: external)
  uint64_t u64 = 0;
  uint64_t aux = 0;
  void* ptr = nullptr;
};
static_assert(sizeof(Envelope) == 32, "Envelope must stay 32 bytes");

inline constexpr uint32_t kEngineKindBase = 0xFFFF0000u;
inline constexpr uint32_t kExternalSender = UINT32_MAX;

namespace internal {
// A connection handed between shards: ptr -> AdoptMsg.
inline constexpr uint32_t kAdoptConnection = kEngineKindBase + 1;
}  // namespace internal

}  // namespace ringmq::shard
