// The messages broker shards send each other: one struct per kind, each owning what it
// carries (its destructor frees it). They travel as shard::Envelope (32 bytes, copied through
// the SPSC mailboxes); Pack() and the matching Unpack() are the only code that knows how a
// kind is laid out in an envelope, and Visit() is the only switch over kinds: OnMessage and
// OnDiscard both go through it, so a kind cannot be handled in one and forgotten in the other.
//
//   PublishMsg         a message for the target's subscribers and/or its retained partition
//   SharedPublishMsg   a message of a shared group, for one member on the target
//   DeliveryReportMsg  how many subscribers a PublishMsg/SharedPublishMsg reached
//   InterestBatchMsg   interest updates (see interest.h), in order, with their sequence
//   InterestAckMsg     "every update up to this sequence is applied here"
//   RetainedQueryMsg   which retained messages match these filters?
//   RetainedReplyMsg   ... these.
// And from threads that are not shards (through Shard::PostExternal):
//   DecisionMsg        a pending decision (hooks.h) is made
//   StoreCommittedMsg  a store write that was pending is durable (persistence/offline_store.h)
//   CallMsg            run a function on the shard's thread (a plugin's per-core reload)
//   DisconnectMsg      disconnect the client with this id, if it is connected here
//   ConfigMsg          the broker's limits changed (a reload): take this copy
//
// Built on the sender's thread, consumed on the receiver's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/base/asserts.h"
#include "core/broker/config.h"
#include "core/broker/hooks.h"
#include "core/broker/message.h"
#include "core/broker/shared_group_key.h"
#include "core/shard/messages.h"

namespace ringmq::broker {

enum class MsgKind : uint32_t {
  kPublish = 1,
  kSharedPublish,
  kDeliveryReport,
  kInterestBatch,
  kInterestAck,
  kRetainedQuery,
  kRetainedReply,
  kDecision,
  kStoreCommitted,
  kCall,
  kDisconnect,
  kConfig,
};

// A change of one shard's interest in a filter: for plain subscriptions, whether it has any
// (sent when that goes 0 <-> 1); for a shared group, how many members it has and how many of
// them are connected.
struct InterestUpdate {
  std::string filter;
  std::string share_name;  // empty: plain subscriptions
  uint32_t count = 0;      // plain: 0 or 1; shared: members on the sending shard
  uint32_t online = 0;     // shared: members with a connection
};

struct PublishMsg {
  static constexpr MsgKind kKind = MsgKind::kPublish;
  MessageRef message;
  uint64_t report_token = 0;    // 0: no delivery report wanted
  bool deliver = false;         // match the target's subscribers
  bool store_retained = false;  // the target holds the topic's retained partition

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = message.release();
    e.u64 = report_token;
    e.aux = (deliver ? 1u : 0u) | (store_retained ? 2u : 0u);
    return e;
  }
  static PublishMsg Unpack(const shard::Envelope& e) {
    return {MessageRef::Adopt(static_cast<Message*>(e.ptr)), e.u64, (e.aux & 1) != 0,
            (e.aux & 2) != 0};
  }
};

struct SharedPublishMsg {
  static constexpr MsgKind kKind = MsgKind::kSharedPublish;
  MessageRef message;
  uint64_t report_token = 0;
  SharedGroupKeyRef group;  // which group: identified by its text, never by a hash

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = message.release();
    e.u64 = report_token;
    e.aux = reinterpret_cast<uint64_t>(group.release());
    return e;
  }
  static SharedPublishMsg Unpack(const shard::Envelope& e) {
    return {MessageRef::Adopt(static_cast<Message*>(e.ptr)), e.u64,
            SharedGroupKeyRef::Adopt(reinterpret_cast<SharedGroupKey*>(e.aux))};
  }
};

// In a refused count: at least one of them was refused because the store could not keep it
// (the publisher then gets no success, whatever else took the message).
inline constexpr uint32_t kUnstoredBit = 1u << 31;

struct DeliveryReportMsg {
  static constexpr MsgKind kKind = MsgKind::kDeliveryReport;
  uint64_t token = 0;
  uint32_t delivered = 0;
  uint32_t refused = 0;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.u64 = token;
    e.aux = (uint64_t{delivered} << 32) | refused;
    return e;
  }
  static DeliveryReportMsg Unpack(const shard::Envelope& e) {
    return {e.u64, static_cast<uint32_t>(e.aux >> 32), static_cast<uint32_t>(e.aux)};
  }
};

struct InterestBatchMsg {
  static constexpr MsgKind kKind = MsgKind::kInterestBatch;
  struct Body {
    uint64_t last_seq = 0;  // the sender's sequence number of the last update
    std::vector<InterestUpdate> updates;
  };
  std::unique_ptr<Body> body;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = body.release();
    return e;
  }
  static InterestBatchMsg Unpack(const shard::Envelope& e) {
    return {std::unique_ptr<Body>(static_cast<Body*>(e.ptr))};
  }
};

struct InterestAckMsg {
  static constexpr MsgKind kKind = MsgKind::kInterestAck;
  uint64_t seq = 0;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.u64 = seq;
    return e;
  }
  static InterestAckMsg Unpack(const shard::Envelope& e) { return {e.u64}; }
};

struct RetainedQueryMsg {
  static constexpr MsgKind kKind = MsgKind::kRetainedQuery;
  struct Body {
    uint64_t request = 0;  // the asking shard's request id (its shard in the top byte)
    std::vector<std::pair<uint32_t, std::string>> filters;  // (index in the request, filter)
  };
  std::unique_ptr<Body> body;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = body.release();
    return e;
  }
  static RetainedQueryMsg Unpack(const shard::Envelope& e) {
    return {std::unique_ptr<Body>(static_cast<Body*>(e.ptr))};
  }
};

struct RetainedReplyMsg {
  static constexpr MsgKind kKind = MsgKind::kRetainedReply;
  struct Body {
    uint64_t request = 0;
    std::vector<std::pair<uint32_t, std::vector<MessageRef>>> matches;  // by filter index
  };
  std::unique_ptr<Body> body;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = body.release();
    return e;
  }
  static RetainedReplyMsg Unpack(const shard::Envelope& e) {
    return {std::unique_ptr<Body>(static_cast<Body*>(e.ptr))};
  }
};

struct DecisionMsg {
  static constexpr MsgKind kKind = MsgKind::kDecision;
  uint64_t ticket = 0;
  Decision decision;
  std::unique_ptr<std::string> auth_data;  // an enhanced-authentication step's (or null)

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.u64 = ticket;
    e.aux = (uint64_t{static_cast<uint8_t>(decision.verdict)} << 8) |
            static_cast<uint8_t>(decision.reason);
    e.ptr = auth_data.release();
    return e;
  }
  static DecisionMsg Unpack(const shard::Envelope& e) {
    return {
        e.u64,
        {static_cast<Verdict>((e.aux >> 8) & 0xFF), static_cast<mqtt::ReasonCode>(e.aux & 0xFF)},
        std::unique_ptr<std::string>(static_cast<std::string*>(e.ptr))};
  }
};

struct StoreCommittedMsg {
  static constexpr MsgKind kKind = MsgKind::kStoreCommitted;
  uint64_t token = 0;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.u64 = token;
    return e;
  }
  static StoreCommittedMsg Unpack(const shard::Envelope& e) { return {e.u64}; }
};

struct CallMsg {
  static constexpr MsgKind kKind = MsgKind::kCall;
  void (*fn)(void* arg) = nullptr;  // must not own `arg`: a dropped call never runs
  void* arg = nullptr;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = arg;
    e.u64 = reinterpret_cast<uintptr_t>(fn);
    return e;
  }
  static CallMsg Unpack(const shard::Envelope& e) {
    return {reinterpret_cast<void (*)(void*)>(static_cast<uintptr_t>(e.u64)), e.ptr};
  }
};

struct DisconnectMsg {
  static constexpr MsgKind kKind = MsgKind::kDisconnect;
  std::unique_ptr<std::string> client_id;
  mqtt::ReasonCode reason = mqtt::ReasonCode::kAdministrativeAction;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = client_id.release();
    e.aux = static_cast<uint8_t>(reason);
    return e;
  }
  static DisconnectMsg Unpack(const shard::Envelope& e) {
    return {std::unique_ptr<std::string>(static_cast<std::string*>(e.ptr)),
            static_cast<mqtt::ReasonCode>(e.aux & 0xFF)};
  }
};

struct ConfigMsg {
  static constexpr MsgKind kKind = MsgKind::kConfig;
  std::unique_ptr<BrokerConfig> config;

  shard::Envelope Pack() && {
    shard::Envelope e;
    e.ptr = config.release();
    return e;
  }
  static ConfigMsg Unpack(const shard::Envelope& e) {
    return {std::unique_ptr<BrokerConfig>(static_cast<BrokerConfig*>(e.ptr))};
  }
};

// The shard a token or ticket belongs to (its top byte, see BrokerShard::NewToken).
inline uint32_t ShardOfToken(uint64_t token) {
  return static_cast<uint32_t>(token >> 56);
}

// An envelope for `msg`, with its kind.
template <typename M>
shard::Envelope ToEnvelope(M&& msg) {
  shard::Envelope e = std::move(msg).Pack();
  e.kind = static_cast<uint32_t>(M::kKind);
  return e;
}

// Unpacks `e` into the message of its kind and hands it to `f` (by rvalue); what `f` does not
// take is freed when it returns. False for an envelope that is not a broker message.
template <typename F>
bool Visit(const shard::Envelope& e, F&& f) {
  switch (static_cast<MsgKind>(e.kind)) {
    case MsgKind::kPublish:
      f(PublishMsg::Unpack(e));
      return true;
    case MsgKind::kSharedPublish:
      f(SharedPublishMsg::Unpack(e));
      return true;
    case MsgKind::kDeliveryReport:
      f(DeliveryReportMsg::Unpack(e));
      return true;
    case MsgKind::kInterestBatch:
      f(InterestBatchMsg::Unpack(e));
      return true;
    case MsgKind::kInterestAck:
      f(InterestAckMsg::Unpack(e));
      return true;
    case MsgKind::kRetainedQuery:
      f(RetainedQueryMsg::Unpack(e));
      return true;
    case MsgKind::kRetainedReply:
      f(RetainedReplyMsg::Unpack(e));
      return true;
    case MsgKind::kDecision:
      f(DecisionMsg::Unpack(e));
      return true;
    case MsgKind::kStoreCommitted:
      f(StoreCommittedMsg::Unpack(e));
      return true;
    case MsgKind::kCall:
      f(CallMsg::Unpack(e));
      return true;
    case MsgKind::kDisconnect:
      f(DisconnectMsg::Unpack(e));
      return true;
    case MsgKind::kConfig:
      f(ConfigMsg::Unpack(e));
      return true;
  }
  return false;
}

}  // namespace ringmq::broker
