// Recovery: what the store hands back at start (persistence::RecoverySink), sorted by the shard
// that owns it now: a session goes to HomeShard(client id), a retained message to
// RetainShard(topic), so a store written with another shard count recovers just as well.
// RecoveryRouter runs on the main thread before the shards start; each shard then rebuilds its
// part (BrokerShard::ApplyRecovery, on its own thread, before it takes any connection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/broker/message.h"
#include "core/mqtt/types.h"
#include "persistence/offline_store.h"

namespace ringmq::broker {

struct WillMessage;

struct RecoveredSubscription {
  std::string filter;
  mqtt::SubscriptionOptions options;
  uint32_t subscription_id = 0;
};

struct RecoveredDelivery {
  uint64_t seq = 0;
  MessageRef message;
  mqtt::Qos qos = mqtt::Qos::k1;
  bool retain = false;
  uint16_t packet_id = 0;  // 0: queued
  bool released = false;
};

struct RecoveredSession {
  std::string client_id;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  uint32_t expiry_s = 0;
  int64_t offline_ms = 0;  // how long it has been away already (its expiry counts from then)
  std::unique_ptr<WillMessage> will;
  std::vector<RecoveredSubscription> subscriptions;
  std::vector<RecoveredDelivery> deliveries;  // in seq order once sorted
  std::vector<uint16_t> unreleased;
  RecoveredSession();
  ~RecoveredSession();
  RecoveredSession(RecoveredSession&&) noexcept;
};

struct ShardRecovery {
  std::vector<RecoveredSession> sessions;
  std::vector<MessageRef> retained;
};

class RecoveryRouter final : public persistence::RecoverySink {
 public:
  // `now_ms`: the monotonic time message expiry deadlines are taken against.
  RecoveryRouter(uint32_t shards, int64_t now_ms);

  void Session(const persistence::SessionView& s, const persistence::WillView* will) override;
  void Subscription(std::string_view client_id, const persistence::SubscriptionView& sub) override;
  void Delivery(std::string_view client_id, const persistence::DeliveryView& d) override;
  void UnreleasedQos2(std::string_view client_id, uint16_t packet_id) override;
  void Retained(const persistence::MessageView& m) override;

  // Everything recovered, per shard (deliveries in seq order); records of sessions the store
  // did not hand back are counted in dropped() and left out.
  std::vector<std::unique_ptr<ShardRecovery>> Take();
  size_t sessions() const { return by_client_.size(); }
  size_t dropped() const { return dropped_; }

 private:
  RecoveredSession* Find(std::string_view client_id);
  MessageRef ToMessage(const persistence::MessageView& m);

  const uint32_t shards_;
  const int64_t now_ms_;
  std::vector<std::unique_ptr<ShardRecovery>> out_;
  absl::flat_hash_map<std::string, std::pair<uint32_t, size_t>> by_client_;  // shard, index
  // One Message for all the queues that hold the same stored body.
  absl::flat_hash_map<uint64_t, MessageRef> by_id_;
  size_t dropped_ = 0;
};

}  // namespace ringmq::broker
