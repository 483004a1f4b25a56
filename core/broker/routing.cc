// A message to the shards that want it: one match on the publisher's shard gives the shards
// with plain subscribers, the shard that takes each shared group's copy, and this shard's
// own subscribers; each other target gets one envelope (one reference), never one per
// subscriber.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"

namespace ringmq::broker {

uint32_t BrokerShard::Route(const MessageRef& m, PendingResponse* ack) {
  if (BrokerHooks* h = hooks_for(BrokerHooks::kWantPublished)) {
    h->OnMessagePublished({*m, PublisherInfo(*m), m->qos()});
  }
  // 1. Which shards, and this shard's subscribers: one walk of the trie.
  Router::Match match;
  match_scratch_.clear();
  router_.MatchTopic(m->topic(), &match, &match_scratch_);
  const uint32_t self = shard_.index();
  const uint32_t retain_shard = m->retain() ? RetainShard(m->topic(), shards_) : UINT32_MAX;
  const uint64_t token = ack != nullptr ? ack->token : 0;
  uint32_t remote = 0;
  DeliveryCount local;
  // 2. One envelope per remote shard.
  for (uint32_t t = 0; t < shards_; ++t) {
    const bool deliver = (match.shards >> t) & 1;
    const bool store = t == retain_shard;  // [MQTT-3.3.1-5]
    if (!deliver && !store) {
      continue;
    }
    if (t == self) {
      if (store) {
        bool unstored = false;
        local.writes += StoreRetained(m, token, &unstored) ? 1 : 0;
        if (unstored) {
          local.Add(Outcome::kUnstored);
        }
      }
      if (deliver) {
        local += DeliverLocal(m, match_scratch_, token);
      }
      continue;
    }
    Send(t, PublishMsg{m, token, deliver, store});
    remote += token != 0;
  }
  // 3. Shared groups: the picked shard's member takes it.
  for (const Router::SharedPick& pk : match.shared) {
    if (pk.shard == self) {
      local += DeliverShared(m, pk.group, token);
      continue;
    }
    Send(pk.shard, SharedPublishMsg{m, token, pk.group->key});
    remote += token != 0;
  }
  if (ack == nullptr) {
    return 0;
  }
  ack->delivered += local.delivered;
  ack->refused += local.refused & ~kUnstoredBit;
  ack->unstored |= (local.refused & kUnstoredBit) != 0;
  return remote + local.writes;
}

void BrokerShard::ReportDelivery(uint32_t to, uint64_t token, DeliveryCount n) {
  if (token != 0) {
    Send(to, DeliveryReportMsg{token, n.delivered, n.refused});
  }
}

void BrokerShard::ReportWhenDurable(uint32_t to, uint64_t publisher_token, uint64_t durable,
                                    DeliveryCount n) {
  if (n.writes == 0 || publisher_token == 0) {
    ReportDelivery(to, publisher_token, n);
    return;
  }
  held_reports_[durable] = {to, publisher_token, n};
}

void BrokerShard::RedistributeShared(Session& s, bool ending) {
  // Messages of shared subscriptions this session cannot take now go to another member:
  // queued ones of any QoS, and QoS 1 ones in flight (at least once allows a second copy).
  // QoS 2 in flight stays with this member: exactly once forbids handing it on
  // [MQTT-4.8.2-4], [MQTT-4.8.2-5]. With no other member, a session that continues keeps
  // them (sent again on reconnection with their ids [MQTT-4.4.0-1]); one that ends loses them.
  auto others = [&](const SharedGroupKeyRef& key) -> SharedGroup* {
    SharedGroup* g = router_.FindGroup({key->share_name(), key->filter()});
    return g != nullptr && g->total > 1 ? g : nullptr;
  };
  struct Moved {
    MessageRef msg;
    SharedGroup* group;
    uint64_t seq;  // this session's copy, done once the new member's copy is durable
  };
  absl::InlinedVector<Moved, 4> moved;
  for (size_t i = 0; i < s.inflight_size();) {
    Inflight& f = s.inflight(i);
    SharedGroup* g = f.shared_group ? others(f.shared_group) : nullptr;
    if (g != nullptr && f.state == Inflight::State::kAwaitPuback) {
      moved.push_back({f.msg, g, s.TakeInflight(i).seq});
      continue;
    }
    ++i;
  }
  for (size_t i = 0; i < s.queue_size();) {
    Queued& q = s.queued(i);
    SharedGroup* g = q.shared_group ? others(q.shared_group) : nullptr;
    if (g != nullptr) {
      Queued taken = TakeQueued(s, i);
      moved.push_back({std::move(taken.msg), g, taken.seq});
      continue;
    }
    ++i;
  }
  for (Moved& mv : moved) {
    HandOn(s, mv.msg, mv.group, mv.seq, ending);
  }
}

// The store keeps this session's copy until the new member's copy is durable (a crash in
// between must not leave the message in no queue): at once after a local delivery (written
// before the done, in this shard's order), after the other shard's report otherwise.
void BrokerShard::HandOn(Session& s, const MessageRef& m, SharedGroup* g, uint64_t seq,
                         bool ending) {
  // Every other member counts, this session (a member here) does not.
  const uint32_t target = router_.PickShard(*g, /*exclude_local=*/1);
  if (target == shard_.index()) {
    DeliverShared(m, g, /*durable_token=*/0, &s, ending);
    Done(s, seq);
    return;
  }
  uint64_t token = 0;
  if (s.persistent() && seq != 0 && shared_.store->durable()) {
    token = NewToken();
    handoff_dones_[token] = {std::string(s.client_id()), seq};
  } else {
    Done(s, seq);
  }
  Send(target, SharedPublishMsg{m, token, g->key});
}

}  // namespace ringmq::broker
