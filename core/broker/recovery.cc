// Recovery: sorting what the store hands back by owning shard (RecoveryRouter, main thread),
// and rebuilding it on each shard (BrokerShard::ApplyRecovery, before the shard's loop runs).
#include "core/broker/recovery.h"

#include <algorithm>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/session.h"
#include "core/broker/shard_hash.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

RecoveredSession::RecoveredSession() = default;
RecoveredSession::~RecoveredSession() = default;
RecoveredSession::RecoveredSession(RecoveredSession&&) noexcept = default;

RecoveryRouter::RecoveryRouter(uint32_t shards, int64_t now_ms) : shards_(shards), now_ms_(now_ms) {
  for (uint32_t i = 0; i < shards; ++i) {
    out_.push_back(std::make_unique<ShardRecovery>());
  }
}

void RecoveryRouter::Session(const persistence::SessionView& s, const persistence::WillView* will) {
  const uint32_t home = HomeShard(s.client_id, shards_);
  auto& sessions = out_[home]->sessions;
  RecoveredSession& r = sessions.emplace_back();
  r.client_id = std::string(s.client_id);
  r.version = s.version;
  r.expiry_s = s.expiry_s;
  r.offline_ms = s.offline_ms;
  if (will != nullptr) {
    r.will = std::make_unique<WillMessage>();
    r.will->topic = std::string(will->topic);
    r.will->payload = std::string(will->payload);
    r.will->forward_properties = std::string(will->properties);
    r.will->qos = will->qos;
    r.will->retain = will->retain;
    r.will->delay_s = will->delay_s;
    r.will->message_expiry_s = will->message_expiry_s;
    r.will->has_message_expiry = will->has_message_expiry;
  }
  by_client_[r.client_id] = {home, sessions.size() - 1};
}

RecoveredSession* RecoveryRouter::Find(std::string_view client_id) {
  auto it = by_client_.find(base::ToAbsl(client_id));
  if (it == by_client_.end()) {
    ++dropped_;  // a record of a session that was not handed back: nothing to attach it to
    return nullptr;
  }
  return &out_[it->second.first]->sessions[it->second.second];
}

MessageRef RecoveryRouter::ToMessage(const persistence::MessageView& m) {
  if (m.id != 0) {
    if (auto it = by_id_.find(m.id); it != by_id_.end()) {
      return it->second;
    }
  }
  MessageInit init;
  init.topic = m.topic;
  init.payload = m.payload;
  init.forward_properties = m.properties;
  init.qos = m.qos;
  init.retain = m.retain;
  init.expiry_deadline_ms = m.expiry_deadline_ms;
  init.id = m.id;  // the store's own id (top byte 0), or 0
  MessageRef made = Message::Create(init);
  if (m.id != 0) {
    by_id_.emplace(m.id, made);
  }
  return made;
}

void RecoveryRouter::Subscription(std::string_view client_id,
                                  const persistence::SubscriptionView& sub) {
  if (RecoveredSession* r = Find(client_id)) {
    r->subscriptions.push_back({std::string(sub.filter), sub.options, sub.subscription_id});
  }
}

void RecoveryRouter::Delivery(std::string_view client_id, const persistence::DeliveryView& d) {
  if (RecoveredSession* r = Find(client_id)) {
    r->deliveries.push_back(
        {d.seq, ToMessage(d.message), d.qos, d.retain, d.packet_id, d.released});
  }
}

void RecoveryRouter::UnreleasedQos2(std::string_view client_id, uint16_t packet_id) {
  if (RecoveredSession* r = Find(client_id)) {
    r->unreleased.push_back(packet_id);
  }
}

void RecoveryRouter::Retained(const persistence::MessageView& m) {
  if (m.expiry_deadline_ms != 0 && m.expiry_deadline_ms <= now_ms_) {
    return;  // expired while the broker was down [MQTT-3.3.2-5]
  }
  out_[RetainShard(m.topic, shards_)]->retained.push_back(ToMessage(m));
}

std::vector<std::unique_ptr<ShardRecovery>> RecoveryRouter::Take() {
  for (auto& shard : out_) {
    for (RecoveredSession& s : shard->sessions) {
      std::sort(
          s.deliveries.begin(), s.deliveries.end(),
          [](const RecoveredDelivery& a, const RecoveredDelivery& b) { return a.seq < b.seq; });
    }
  }
  by_client_.clear();
  by_id_.clear();
  return std::move(out_);
}

// ---- on the shard --------------------------------------------------------------------------

void BrokerShard::ApplyRecovery(ShardRecovery& r) {
  for (RecoveredSession& rs : r.sessions) {
    shared_.sessions_total.fetch_add(1, std::memory_order_relaxed);
    auto fresh = std::make_unique<Session>(rs.client_id, shard_.index());
    Session& s = *fresh;
    sessions_.insert(std::move(fresh));
    ShardCounters::Add(counters().sessions, 1);
    s.version = rs.version;
    s.expiry_s = rs.expiry_s;
    s.will = std::move(rs.will);
    for (const RecoveredSubscription& sub : rs.subscriptions) {
      uint64_t wait_seq = 0;  // nobody waits: no SUBACK
      const SubRef ref = mqtt::IsSharedFilter(sub.filter)
                             ? AddShared(s, sub.filter, sub.options, sub.subscription_id, &wait_seq)
                             : AddPlain(s, sub.filter, sub.options, sub.subscription_id, &wait_seq);
      if (s.subscriptions.insert(ref.bits()).second) {
        ShardCounters::Add(counters().subscriptions, 1);
      }
    }
    for (RecoveredDelivery& d : rs.deliveries) {
      s.SkipSeqTo(d.seq);
      Queued q{std::move(d.message), d.seq, {}, d.qos, d.retain, {}};
      if (d.packet_id == 0) {
        queued_bytes_ += q.msg->footprint();
        ShardCounters::Add(counters().queued_messages, 1);
        s.Enqueue(std::move(q));
        continue;
      }
      s.AddInflight(std::move(q), d.packet_id);  // sent again, with DUP, on reconnection
      s.inflight(s.inflight_size() - 1).sent = true;
      if (d.released) {
        s.AwaitPubcomp(s.inflight_size() - 1);
      }
    }
    s.MarkAllUnsent();
    for (uint16_t id : rs.unreleased) {
      s.AddUnreleased(id);
    }
    ScheduleSessionExpiry(s, rs.offline_ms);  // away until its client comes back
    if (s.will) {
      // Its connection ended with the broker: a lost connection. The will goes out after its
      // delay (at least a second, so that every shard has recovered its subscribers).
      s.will->delay_s = std::max<uint32_t>(s.will->delay_s, 1);
      shard_.timers().Schedule(&SessionTimers(s).will, now_ms() + int64_t{s.will->delay_s} * 1000);
    }
  }
  for (MessageRef& m : r.retained) {
    retained_.Set(std::move(m));
  }
  ShardCounters::Set(counters().queued_bytes, queued_bytes_);
  ShardCounters::Set(counters().retained, retained_.size());
  ShardCounters::Set(counters().retained_bytes, retained_.bytes());
  RINGMQ_LOG(kInfo, "recovered %d sessions and %d retained messages", r.sessions.size(),
             r.retained.size());
}

}  // namespace ringmq::broker
