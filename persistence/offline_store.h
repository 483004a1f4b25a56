// OfflineStore: what the broker tells the store so that a restart or a crash loses nothing
// that was acknowledged. The interface only: no SQLite types here (persistence/sqlite/ will
// implement it). Called on the shard that owns the state (a session's home shard, a retained
// topic's partition); implementations must never block the shard.
//
// Every write names the state it changes; `token` (0: nobody waits) identifies an
// acknowledgement that depends on it. A write returns true when it will become durable later:
// the store then calls the shard's StoreListener::OnStoreCommitted(token) on that shard's
// thread (through Shard::PostExternal) once its batch has committed, and the broker holds
// the acknowledgement until then (PendingResponse::waiting, the same count the cross-shard
// delivery reports use). A write that returns false is already as durable as it will be.
//
// The in-memory store (MemoryStore) keeps nothing: the broker's own structures are the
// state, and every write returns false. It is what runs until the SQLite store exists, and
// what benchmarks will keep using (labelled as such).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/mqtt/types.h"

namespace ringmq::persistence {

// The parts of a message the store keeps (views valid during the call).
struct MessageView {
  std::string_view topic;
  std::string_view payload;
  std::string_view properties;  // forwarded MQTT 5 properties, encoded
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  int64_t expiry_deadline_ms = 0;
};

class StoreListener {
 public:
  virtual ~StoreListener() = default;
  // A write that returned true is durable. On the shard that made it.
  virtual void OnStoreCommitted(uint64_t token) = 0;
};

class OfflineStore {
 public:
  virtual ~OfflineStore() = default;

  // Whether writes complete asynchronously (acknowledgements wait for them).
  virtual bool durable() const = 0;

  // A session that outlives its connection (expiry > 0) began or changed.
  virtual bool SessionUpdated(std::string_view client_id, uint32_t expiry_s, uint64_t token) = 0;
  virtual bool SessionEnded(std::string_view client_id, uint64_t token) = 0;
  virtual bool SubscriptionAdded(std::string_view client_id, std::string_view filter,
                                 const mqtt::SubscriptionOptions& options, uint32_t subscription_id,
                                 uint64_t token) = 0;
  virtual bool SubscriptionRemoved(std::string_view client_id, std::string_view filter,
                                   uint64_t token) = 0;
  // A QoS 1/2 message now belongs to a persistent session (queued or in flight); `seq`
  // numbers a session's messages in the order they were given to it ...
  virtual bool MessageQueued(std::string_view client_id, uint64_t seq, const MessageView& m,
                             uint64_t token) = 0;
  // ... and is done with (acknowledged, expired, dropped or handed to another member).
  virtual bool MessageDone(std::string_view client_id, uint64_t seq, uint64_t token) = 0;
  // The retained message of a topic was set, or deleted (empty payload).
  virtual bool RetainedSet(const MessageView& m, uint64_t token) = 0;
};

// The in-memory store: every write is a no-op that completes at once (see above).
class MemoryStore final : public OfflineStore {
 public:
  bool durable() const override { return false; }
  bool SessionUpdated(std::string_view, uint32_t, uint64_t) override { return false; }
  bool SessionEnded(std::string_view, uint64_t) override { return false; }
  bool SubscriptionAdded(std::string_view, std::string_view, const mqtt::SubscriptionOptions&,
                         uint32_t, uint64_t) override {
    return false;
  }
  bool SubscriptionRemoved(std::string_view, std::string_view, uint64_t) override { return false; }
  bool MessageQueued(std::string_view, uint64_t, const MessageView&, uint64_t) override {
    return false;
  }
  bool MessageDone(std::string_view, uint64_t, uint64_t) override { return false; }
  bool RetainedSet(const MessageView&, uint64_t) override { return false; }
};

}  // namespace ringmq::persistence
