// Routing a message to the shards that want it, and delivering it to local sessions: the
// hot path. Each delivering shard encodes a PUBLISH once per variant and shares the bytes.
#include <algorithm>
#include <cstring>

#include "core/base/bytes.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/publish_encoder.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/varint.h"

namespace ringmq::broker {

using mqtt::ProtocolVersion;
using mqtt::Qos;

// Above this size a QoS 0 PUBLISH is referenced from the output queue instead of copied; for
// QoS 1/2 only its header (up to the packet id, which differs per receiver) is copied.
constexpr size_t kShareThreshold = 1024;

persistence::MessageView BrokerShard::StoreView(const Message& m) {
  persistence::MessageView v;
  v.topic = m.topic();
  v.payload = m.payload();
  v.properties = m.forward_properties();
  v.qos = m.qos();
  v.retain = m.retain();
  v.expiry_deadline_ms = m.expiry_deadline_ms();
  return v;
}

void BrokerShard::Done(Session& s, uint64_t seq) {
  if (s.persistent() && seq != 0) {
    store().MessageDone(s.client_id(), seq, 0);
  }
}

void BrokerShard::SendMessage(uint32_t target, uint32_t kind, const MessageRef& m, uint64_t token,
                              uint64_t aux) {
  shard::Envelope e;
  e.kind = kind;
  e.ptr = MessageRef(m).release();  // the receiver adopts this reference
  e.u64 = token;
  e.aux = aux;
  shard_.Send(target, e);
}

uint32_t BrokerShard::Route(const MessageRef& m, PendingResponse* ack) {
  // 1. Which shards: plain subscribers (a bit per shard) and, per matching shared group,
  //    the one shard that gets this message.
  uint64_t mask = 0;
  struct Pick {
    uint32_t shard;
    uint64_t hash;
  };
  absl::InlinedVector<Pick, 4> picks;
  interest_.Match(m->topic(), [&](Interest& in) {
    mask |= in.shards;
    for (auto& [name, si] : in.shared) {
      picks.push_back({PickSharedShard(*si), si->hash});
    }
  });
  const uint32_t self = shard_.index();
  const uint32_t retain_shard = m->retain() ? RetainShard(m->topic(), shards_) : UINT32_MAX;
  const uint64_t token = ack != nullptr ? ack->token : 0;
  uint32_t remote = 0;
  DeliveryCount local;
  // 2. One envelope per remote shard (one reference each), never one per subscriber.
  for (uint32_t t = 0; t < shards_; ++t) {
    const bool deliver = (mask >> t) & 1;
    const bool store = t == retain_shard;  // [MQTT-3.3.1-5]
    if (!deliver && !store) {
      continue;
    }
    if (t == self) {
      local += ApplyPublish(m, store, deliver);
      continue;
    }
    SendMessage(t, kPublish, m, token,
                (deliver ? kMatchSubscribers : 0) | (store ? kStoreRetained : 0));
    if (token != 0) {
      ++remote;
    }
  }
  for (const Pick& pk : picks) {
    if (pk.shard == self) {
      local += DeliverShared(m, pk.hash);
      continue;
    }
    SendMessage(pk.shard, kPublishShared, m, token, pk.hash);
    if (token != 0) {
      ++remote;
    }
  }
  if (ack != nullptr) {
    ack->delivered += local.delivered;  // PendingResponse keeps its own two counts
    ack->refused += local.refused;
  }
  return remote;
}

uint32_t BrokerShard::PickSharedShard(SharedInterest& si, uint32_t exclude_local) {
  // Round robin over the connected members of the group, wherever they are: shard s gets a
  // share of the messages proportional to its connected members. With none connected, over
  // all members (their sessions queue the messages). `exclude_local` members of this shard
  // do not count (one that is leaving, already counted as not connected).
  const uint32_t self = shard_.index();
  const bool by_online = si.total_online > 0;
  auto members = [&](uint32_t s) {
    if (by_online) {
      return si.online[s];
    }
    uint32_t n = si.members[s];
    return s == self ? n - std::min(n, exclude_local) : n;
  };
  const uint64_t total =
      by_online ? si.total_online : si.total - std::min(si.members[self], exclude_local);
  if (total == 0) {
    return self;
  }
  uint64_t k = si.next++ % total;
  for (uint32_t s = 0; s < shards_; ++s) {
    if (k < members(s)) {
      return s;
    }
    k -= members(s);
  }
  return self;
}

BrokerShard::DeliveryCount BrokerShard::ApplyPublish(const MessageRef& m, bool store_retained,
                                                     bool deliver) {
  if (store_retained) {
    store().RetainedSet(StoreView(*m), 0);
    retained_.Set(m);
    counters().retained.store(retained_.size(), std::memory_order_relaxed);
  }
  return deliver ? DeliverLocal(m) : DeliveryCount{};
}

void BrokerShard::MatchRetained(std::string_view filter, std::vector<MessageRef>* out) {
  retained_.Match(filter, now_ms(), out);
  counters().retained.store(retained_.size(), std::memory_order_relaxed);  // expired dropped
}

BrokerShard::DeliveryCount BrokerShard::DeliverLocal(const MessageRef& m) {
  DeliveryCount n;
  match_scratch_.clear();
  subs_.Match(m->topic(), [&](LocalSubscribers& ls) {
    match_scratch_.insert(match_scratch_.end(), ls.subs.begin(), ls.subs.end());
  });
  if (match_scratch_.empty()) {
    return n;
  }
  // Overlapping subscriptions of one session sit next to each other after sorting.
  if (match_scratch_.size() > 1) {
    std::sort(match_scratch_.begin(), match_scratch_.end(),
              [](const Subscriber& a, const Subscriber& b) { return a.session < b.session; });
  }
  PublishEncoder enc(*m, now_ms());
  for (size_t i = 0; i < match_scratch_.size();) {
    Session* s = match_scratch_[i].session;
    size_t end = i + 1;
    while (end < match_scratch_.size() && match_scratch_[end].session == s) {
      ++end;
    }
    if (mqtt::IsV5(s->version)) {
      // 5.0: one copy per matching subscription, each with its own Subscription Identifier
      // [MQTT-3.3.4-3], [MQTT-3.3.4-5].
      for (size_t k = i; k < end; ++k) {
        const Subscriber& sub = match_scratch_[k];
        if (sub.options.no_local && m->publisher_id() == s->client_id()) {
          continue;  // [MQTT-3.8.3-3]
        }
        const Qos qos = mqtt::MinQos(m->qos(), sub.options.max_qos);         // [MQTT-3.8.4-8]
        const bool retain = sub.options.retain_as_published && m->retain();  // [MQTT-3.3.1-12/13]
        n.Add(DeliverToSession(*s, m, qos, retain, sub.subscription_id, 0, &enc));
      }
    } else {
      // 3.x: one copy at the highest QoS of the matching subscriptions [MQTT-3.3.5-1 (3.1.1)],
      // RETAIN 0 on an established subscription [MQTT-3.3.1-9 (3.1.1)].
      Qos best = Qos::k0;
      for (size_t k = i; k < end; ++k) {
        best = std::max(best, match_scratch_[k].options.max_qos);
      }
      n.Add(DeliverToSession(*s, m, mqtt::MinQos(m->qos(), best), /*retain=*/false, 0, 0, &enc));
    }
    i = end;
  }
  return n;
}

BrokerShard::DeliveryCount BrokerShard::DeliverShared(const MessageRef& m, uint64_t group_hash,
                                                      const Session* avoid, bool avoid_ending) {
  DeliveryCount n;
  auto it = shared_by_hash_.find(group_hash);
  if (it == shared_by_hash_.end()) {
    return n;  // the group's last member here left while the message was on its way
  }
  SharedGroup& g = *it->second;
  const size_t size = g.members.size();
  // A connected member first (round robin), else one that is away but keeps its session;
  // the member the message is being taken from only if it is the only one left and stays.
  Subscriber* pick = nullptr;
  for (int pass = 0; pass < 2 && pick == nullptr; ++pass) {
    for (size_t k = 0; k < size; ++k) {
      size_t idx = (g.next + k) % size;
      Subscriber& sub = g.members[idx];
      if (sub.session == avoid) {
        continue;
      }
      const bool online = sub.session->connection != nullptr;
      if (pass == 0 ? online : true) {
        pick = &sub;
        g.next = static_cast<uint32_t>(idx + 1);
        break;
      }
    }
  }
  if (pick == nullptr && avoid != nullptr && !avoid_ending) {
    for (Subscriber& sub : g.members) {
      if (sub.session == avoid) {
        pick = &sub;
      }
    }
  }
  if (pick == nullptr) {
    return n;
  }
  PublishEncoder enc(*m, now_ms());
  const Qos qos = mqtt::MinQos(m->qos(), pick->options.max_qos);  // [MQTT-4.8.2-3]
  const bool retain = pick->options.retain_as_published && m->retain();
  n.Add(DeliverToSession(*pick->session, m, qos, retain, pick->subscription_id, group_hash, &enc));
  return n;
}

uint32_t BrokerShard::Window(const Connection& c) const {
  // The client's Receive Maximum [MQTT-3.3.4-9], capped by ours.
  return std::min<uint32_t>(c.client_receive_maximum, config().max_inflight);
}

uint16_t BrokerShard::NextPacketId(Session& s) {
  // A non-zero id not in use by this session's in-flight messages [MQTT-2.2.1-4].
  for (;;) {
    uint16_t id = ++s.last_packet_id;
    if (id == 0) {
      id = s.last_packet_id = 1;
    }
    bool used = false;
    for (size_t i = 0; i < s.inflight.size(); ++i) {
      if (s.inflight[i].packet_id == id) {
        used = true;
        break;
      }
    }
    if (!used) {
      return id;
    }
  }
}

BrokerShard::Outcome BrokerShard::DeliverToSession(Session& s, const MessageRef& m, Qos qos,
                                                   bool retain, uint32_t subscription_id,
                                                   uint64_t shared_group, PublishEncoder* enc) {
  if (m->Expired(now_ms())) {
    return Outcome::kExpired;  // [MQTT-3.3.2-5]
  }
  Connection* c = s.connection;
  const bool online = c != nullptr && c->state == Connection::State::kConnected;
  if (qos == Qos::k0) {
    if (!online || c->conn->congested()) {
      // Nobody to send it to now, or a consumer that does not keep up: QoS 0 is dropped,
      // and counted, rather than buffered without bound.
      ShardCounters::Add(counters().dropped, 1);
      return Outcome::kDropped;
    }
    WritePublish(*c, *m, Qos::k0, retain, /*dup=*/false, 0, subscription_id, enc);
    return Outcome::kSent;
  }
  // A QoS 1/2 message now belongs to the session [MQTT-4.5.0-1]; a persistent one keeps it
  // across restarts.
  const uint64_t seq = ++s.last_seq;
  if (online && s.queue.empty() && s.unsent == 0 && s.sent_inflight() < Window(*c) &&
      !c->conn->congested()) {
    const uint16_t id = NextPacketId(s);
    if (WritePublish(*c, *m, qos, retain, /*dup=*/false, id, subscription_id, enc)) {
      if (s.persistent()) {
        store().MessageQueued(s.client_id(), seq, StoreView(*m), 0);
      }
      AddInflight(s, Queued{m, seq, subscription_id, qos, retain, shared_group}, id);
    }
    return Outcome::kSent;
  }
  if (s.queue.size() >= config().max_queued_messages ||
      s.queued_bytes + m->footprint() > config().max_queued_bytes) {
    ShardCounters::Add(counters().dropped, 1);
    RINGMQ_LOG_EVERY_S(kWarning, 10, "client %s: queue full (%d messages, %d bytes); dropping",
                       s.client_id(), s.queue.size(), s.queued_bytes);
    return Outcome::kRefused;
  }
  if (s.persistent()) {
    store().MessageQueued(s.client_id(), seq, StoreView(*m), 0);
  }
  s.queue.emplace_back(Queued{m, seq, subscription_id, qos, retain, shared_group});
  s.queued_bytes += m->footprint();
  return Outcome::kQueued;
}

bool BrokerShard::WritePublish(Connection& c, const Message& m, Qos qos, bool retain, bool dup,
                               uint16_t packet_id, uint32_t subscription_id, PublishEncoder* enc) {
  const ProtocolVersion v = c.version;
  // Topic aliases towards a 5.0 client that accepts them [MQTT-3.1.2-26/27], [MQTT-3.3.2-11]:
  // the encoding is this connection's own.
  if (mqtt::IsV5(v) && c.client_topic_alias_max > 0 && config().topic_alias_outbound) {
    if (!c.outbound_aliases) {
      c.outbound_aliases = std::make_unique<OutboundAliases>();
    }
    OutboundAliases& a = *c.outbound_aliases;
    mqtt::Publish p;
    uint8_t sub_buf[8];
    PublishEncoder local(m, now_ms());
    local.Fill(v, qos, retain, subscription_id, &p, sub_buf);
    p.dup = dup;
    p.packet_id = packet_id;
    uint16_t alias = 0;
    bool known = false;
    if (auto it = a.by_topic.find(base::ToAbsl(m.topic())); it != a.by_topic.end()) {
      alias = it->second;
      known = true;
    } else if (a.next <= c.client_topic_alias_max) {
      alias = a.next;
    }
    if (alias != 0) {
      p.properties.SetTopicAlias(alias);
      if (known) {
        p.topic = {};
      }
    }
    const size_t n = mqtt::EncodedSize(p, v);
    if (n > c.client_max_packet_size) {
      return false;  // dropped for this client [MQTT-3.1.2-24/25]
    }
    if (alias != 0 && !known) {
      a.by_topic.emplace(std::string(m.topic()), alias);
      ++a.next;
    }
    mqtt::Encode(p, v, c.conn->WriteUninitialized(n));
    ShardCounters::Add(counters().messages_out, 1);
    ShardCounters::Add(counters().bytes_out, n);
    return true;
  }
  const PublishEncoder::Variant& var = enc->Get(v, qos, retain, subscription_id);
  const size_t n = var.bytes->size();
  if (n > c.client_max_packet_size) {
    return false;  // [MQTT-3.1.2-24/25]
  }
  const uint8_t* src = var.bytes->data();
  if (qos == Qos::k0) {
    if (n > kShareThreshold) {
      c.conn->WriteShared(var.bytes, 0, n);
    } else {
      std::memcpy(c.conn->WriteUninitialized(n), src, n);
    }
  } else {
    // Header, topic and packet id are this receiver's; the rest is shared when large.
    const size_t head = var.packet_id_offset + 2;
    const size_t copy = n > kShareThreshold ? head : n;
    uint8_t* out = c.conn->WriteUninitialized(copy);
    std::memcpy(out, src, copy);
    base::StoreBe16(out + var.packet_id_offset, packet_id);
    if (dup) {
      out[0] |= 0x08;  // a retransmission [MQTT-3.3.1-1]
    }
    if (copy < n) {
      c.conn->WriteShared(var.bytes, copy, n - copy);
    }
  }
  ShardCounters::Add(counters().messages_out, 1);
  ShardCounters::Add(counters().bytes_out, n);
  return true;
}

void BrokerShard::EraseInflight(Session& s, size_t i) {
  if (i >= s.sent_inflight()) {
    --s.unsent;  // it had not been sent again on this connection yet
  }
  Done(s, s.inflight[i].seq);
  s.inflight.erase(i);
}

bool BrokerShard::ResendOne(Session& s) {
  // The oldest in-flight message not yet sent on this connection, with its original id and
  // DUP set [MQTT-4.4.0-1]; a QoS 2 message past PUBREC gets its PUBREL again instead
  // [MQTT-4.3.3-6].
  Connection& c = *s.connection;
  const size_t i = s.sent_inflight();
  Inflight& f = s.inflight[i];
  if (f.state == Inflight::State::kAwaitPubcomp) {
    mqtt::Pubrel rel;
    rel.packet_id = f.packet_id;
    Write(c, rel);
    --s.unsent;
    return true;
  }
  PublishEncoder enc(*f.msg, now_ms());
  if (!WritePublish(c, *f.msg, f.qos, f.retain, /*dup=*/true, f.packet_id, f.subscription_id,
                    &enc)) {
    EraseInflight(s, i);  // too large for this connection: dropped [MQTT-3.1.2-25]
    return false;
  }
  --s.unsent;
  return true;
}

void BrokerShard::SendQueued(Session& s) {
  Connection* c = s.connection;
  if (c == nullptr || c->state != Connection::State::kConnected) {
    return;
  }
  // 1. In-flight messages waiting to go out again after a resume (they keep their order).
  while (s.unsent > 0 && s.sent_inflight() < Window(*c) && !c->conn->congested()) {
    ResendOne(s);
  }
  if (s.unsent > 0) {
    return;
  }
  // 2. Then the queue, as the window allows [MQTT-3.3.4-9], [MQTT-4.9.0-2].
  while (!s.queue.empty() && s.sent_inflight() < Window(*c) && !c->conn->congested()) {
    Queued q = std::move(s.queue.front());
    s.queue.pop_front();
    s.queued_bytes -= q.msg->footprint();
    if (q.msg->Expired(now_ms())) {
      Done(s, q.seq);
      continue;  // [MQTT-3.3.2-5]
    }
    PublishEncoder enc(*q.msg, now_ms());
    if (q.qos == Qos::k0) {
      WritePublish(*c, *q.msg, Qos::k0, q.retain, false, 0, q.subscription_id, &enc);
      continue;
    }
    const uint16_t id = NextPacketId(s);
    if (!WritePublish(*c, *q.msg, q.qos, q.retain, false, id, q.subscription_id, &enc)) {
      Done(s, q.seq);
      continue;
    }
    AddInflight(s, std::move(q), id);
  }
}

void BrokerShard::AddInflight(Session& s, Queued&& q, uint16_t packet_id) {
  Inflight& f = s.inflight.emplace_back();
  f.msg = std::move(q.msg);
  f.seq = q.seq;
  f.subscription_id = q.subscription_id;
  f.packet_id = packet_id;
  f.qos = q.qos;
  f.state = q.qos == Qos::k1 ? Inflight::State::kAwaitPuback : Inflight::State::kAwaitPubrec;
  f.retain = q.retain;
  f.shared_group = q.shared_group;
}

void BrokerShard::ResendInflight(Session& s) {
  // Nothing is sent on the new connection yet; SendQueued() sends what the window allows.
  s.unsent = static_cast<uint32_t>(s.inflight.size());
}

void BrokerShard::RedistributeShared(Session& s, bool ending) {
  // Messages of shared subscriptions this session cannot take now go to another member:
  // queued ones of any QoS, and QoS 1 ones in flight (at least once allows a second copy).
  // QoS 2 in flight stays with this member: exactly once forbids handing it on
  // [MQTT-4.8.2-4], [MQTT-4.8.2-5]. With no other member, a session that continues keeps
  // them (sent again on reconnection with their ids [MQTT-4.4.0-1]); one that ends loses them.
  auto others = [&](uint64_t group) -> bool {
    auto it = interest_by_hash_.find(group);
    return it != interest_by_hash_.end() && it->second->total > 1;
  };
  absl::InlinedVector<std::pair<MessageRef, uint64_t>, 4> moved;
  for (size_t i = 0; i < s.inflight.size();) {
    Inflight& f = s.inflight[i];
    if (f.shared_group != 0 && f.state == Inflight::State::kAwaitPuback && others(f.shared_group)) {
      moved.emplace_back(std::move(f.msg), f.shared_group);
      EraseInflight(s, i);
      continue;
    }
    ++i;
  }
  for (size_t i = 0; i < s.queue.size();) {
    Queued& q = s.queue[i];
    if (q.shared_group != 0 && others(q.shared_group)) {
      Done(s, q.seq);
      s.queued_bytes -= q.msg->footprint();
      moved.emplace_back(std::move(q.msg), q.shared_group);
      s.queue.erase(i);
      continue;
    }
    ++i;
  }
  for (auto& [m, hash] : moved) {
    // Every other member counts, this session (a member here) does not.
    const uint32_t target = PickSharedShard(*interest_by_hash_.at(hash), /*exclude_local=*/1);
    if (target == shard_.index()) {
      DeliverShared(m, hash, &s, ending);
    } else {
      SendMessage(target, kPublishShared, m, /*token=*/0, hash);
    }
  }
}

}  // namespace ringmq::broker
