// Messages between broker shards (Envelope kinds and their payloads). Whatever `ptr` points
// to is owned by the receiver once delivered (or freed by BrokerShard::OnDiscard).
//
//   kPublish        ptr: Message* (one reference); u64: report token (0: no report wanted);
//                   aux: flags (kMatchSubscribers, kStoreRetained)
//   kPublishShared  ptr: Message* (one reference); u64: report token; aux: shared group hash
//   kDeliveryReport u64: token; aux: (delivered << 32) | refused
//   kInterest       ptr: InterestUpdate*; u64: ack token (0: none)
//   kInterestAck    u64: token
//   kRetainedQuery  ptr: RetainedQuery*
//   kRetainedReply  ptr: RetainedReply*
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/broker/message.h"

namespace ringmq::broker {

enum MessageKind : uint32_t {
  kPublish = 1,
  kPublishShared = 2,
  kDeliveryReport = 3,
  kInterest = 4,
  kInterestAck = 5,
  kRetainedQuery = 6,
  kRetainedReply = 7,
};

// kPublish flags.
inline constexpr uint64_t kMatchSubscribers = 1;
inline constexpr uint64_t kStoreRetained = 2;

// A shard's interest in a filter changed: for a plain filter, whether it has subscribers
// (sent when its count goes 0 <-> 1); for a shared group, its member count there.
struct InterestUpdate {
  std::string filter;
  std::string share_name;  // empty: plain subscription
  uint32_t shard = 0;
  uint32_t count = 0;   // plain: 0 or 1; shared: members on that shard
  uint32_t online = 0;  // shared: how many of those members are connected
};

// Which retained messages match these filters? (Each filter carries its index in the asking
// shard's request; a wildcard filter is asked of every shard, an exact one of its topic's.)
struct RetainedQuery {
  uint64_t request = 0;  // the asking shard's request id
  std::vector<std::pair<uint32_t, std::string>> filters;
};

struct RetainedReply {
  uint64_t request = 0;
  std::vector<std::pair<uint32_t, std::vector<MessageRef>>> matches;  // by filter index
};

}  // namespace ringmq::broker
