// A message to local sessions, the hot path: one copy per session, encoded once per variant
// and shared; the session's outbound window (in flight, queue, resend after a resume).
#include <algorithm>
#include <cstring>

#include "core/base/bytes.h"
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/publish_encoder.h"
#include "core/mqtt/encoder.h"

namespace ringmq::broker {

using mqtt::ProtocolVersion;
using mqtt::Qos;

// Above this size a QoS 0 PUBLISH is referenced from the output queue instead of copied; for
// QoS 1/2 only its header (up to the packet id, which differs per receiver) is copied.
constexpr size_t kShareThreshold = 1024;

bool BrokerShard::CombineMatches(const Session& s, const Message& m,
                                 std::span<const Subscriber> subs, Delivery* d) const {
  // One copy however many of the session's subscriptions match: the highest granted QoS
  // [MQTT-3.3.4-2], [MQTT-3.3.5-1 (3.1.1)]; in 5.0 every matching Subscription Identifier
  // [MQTT-3.3.4-3] and RETAIN as published when a subscription asks for it [MQTT-3.3.1-12/13]
  // (3.x: RETAIN 0 on an established subscription [MQTT-3.3.1-9 (3.1.1)]).
  const bool v5 = mqtt::IsV5(s.version);
  const bool own = m.publisher_id() == s.client_id();
  bool any = false;
  Qos best = Qos::k0;
  for (const Subscriber& sub : subs) {
    if (v5 && sub.options.no_local && own) {
      continue;  // [MQTT-3.8.3-3]
    }
    any = true;
    best = std::max(best, sub.options.max_qos);
    if (!v5) {
      continue;
    }
    d->retain |= sub.options.retain_as_published && m.retain();
    if (sub.subscription_id != 0 &&
        std::find(d->subscription_ids.begin(), d->subscription_ids.end(), sub.subscription_id) ==
            d->subscription_ids.end()) {
      d->subscription_ids.push_back(sub.subscription_id);
    }
  }
  d->qos = mqtt::MinQos(m.qos(), best);  // [MQTT-3.8.4-8]
  return any;
}

BrokerShard::DeliveryCount BrokerShard::DeliverLocal(const MessageRef& m,
                                                     std::vector<Subscriber>& subs,
                                                     uint64_t durable_token) {
  DeliveryCount n;
  if (subs.empty()) {
    return n;
  }
  // Overlapping subscriptions of one session sit next to each other after sorting.
  if (subs.size() > 1) {
    std::sort(subs.begin(), subs.end(),
              [](const Subscriber& a, const Subscriber& b) { return a.session < b.session; });
  }
  PublishEncoder enc(*m, now_ms());
  for (size_t i = 0; i < subs.size();) {
    Session* s = subs[i].session;
    size_t end = i + 1;
    while (end < subs.size() && subs[end].session == s) {
      ++end;
    }
    Delivery d;
    d.durable_token = durable_token;
    if (CombineMatches(*s, *m, std::span(subs).subspan(i, end - i), &d)) {
      if (!s->retained_fetches.empty()) {
        NoteLiveTopic(*s, m->topic());
      }
      bool write = false;
      n.Add(DeliverToSession(*s, m, std::move(d), &enc, &write));
      n.writes += write ? 1 : 0;
    }
    i = end;
  }
  return n;
}

BrokerShard::DeliveryCount BrokerShard::DeliverShared(const MessageRef& m, SharedGroup* g,
                                                      uint64_t durable_token, const Session* avoid,
                                                      bool avoid_ending) {
  DeliveryCount n;
  Subscriber* pick = router_.PickMember(*g, avoid, avoid_ending);
  if (pick == nullptr) {
    return n;
  }
  PublishEncoder enc(*m, now_ms());
  Delivery d;
  d.qos = mqtt::MinQos(m->qos(), pick->options.max_qos);  // [MQTT-4.8.2-3]
  d.retain = pick->options.retain_as_published && m->retain();
  if (pick->subscription_id != 0) {
    d.subscription_ids.push_back(pick->subscription_id);
  }
  d.shared_group = g->key;
  d.durable_token = durable_token;
  bool write = false;
  n.Add(DeliverToSession(*pick->session, m, std::move(d), &enc, &write));
  n.writes += write ? 1 : 0;
  return n;
}

uint32_t BrokerShard::Window(const Connection& c) const {
  // The client's Receive Maximum [MQTT-3.3.4-9], capped by ours.
  return std::min<uint32_t>(c.client_receive_maximum, config().max_inflight);
}

bool BrokerShard::QueueHasRoom(const Session& s, const Message& m) {
  if (s.queue_size() >= config().max_queued_messages ||
      s.queued_bytes() + m.footprint() > config().max_queued_bytes) {
    RINGMQ_LOG_EVERY_S(kWarning, 10, "client %s: queue full (%d messages, %d bytes); dropping",
                       s.client_id(), s.queue_size(), s.queued_bytes());
    return false;
  }
  // This shard's share of the bound over all sessions.
  const uint64_t share = (config().max_queued_bytes_total + shards_ - 1) / shards_;
  if (queued_bytes_ + m.footprint() > share) {
    ShardCounters::Add(counters().refused_queue_total, 1);
    RINGMQ_LOG_EVERY_S(kWarning, 10,
                       "queued messages over all sessions reached %d bytes on "
                       "this shard (--max-queued-bytes-total); dropping",
                       queued_bytes_);
    return false;
  }
  return true;
}

void BrokerShard::MessageDropped(const Session& s, const Message& m, Qos qos, DropReason why) {
  ShardCounters::Add(counters().dropped, 1);
  ShardCounters::Add(counters().dropped_by_reason[static_cast<size_t>(why)], 1);
  if (BrokerHooks* h = hooks_for(BrokerHooks::kWantDropped)) {
    h->OnMessageDropped({m, ClientInfoOf(s), qos}, why);
  }
}

BrokerShard::Outcome BrokerShard::DeliverToSession(Session& s, const MessageRef& m, Delivery d,
                                                   PublishEncoder* enc, bool* write) {
  if (m->Expired(now_ms())) {
    MessageDropped(s, *m, d.qos, DropReason::kExpired);  // [MQTT-3.3.2-5]
    return Outcome::kExpired;
  }
  Connection* c = s.connection;
  const bool online = c != nullptr && c->state == Connection::State::kConnected;
  if (d.qos == Qos::k0) {
    if (!online || c->conn->congested()) {
      // Nobody to send it to now, or a consumer that does not keep up: QoS 0 is dropped,
      // and counted, rather than buffered without bound.
      MessageDropped(s, *m, Qos::k0, online ? DropReason::kSlowConsumer : DropReason::kOffline);
      return Outcome::kDropped;
    }
    WritePublish(*c, *m, Qos::k0, d.retain, /*dup=*/false, 0, d.subscription_ids, enc);
    return Outcome::kSent;
  }
  // A QoS 1/2 message now belongs to the session [MQTT-4.5.0-1]; a persistent one keeps it
  // across restarts, and the publisher's acknowledgement waits for that. When the store
  // could not keep it (disk full, decided where it was made), it is refused rather than held
  // where a restart loses it.
  if (s.persistent() && m->store_refused()) {
    MessageDropped(s, *m, d.qos, DropReason::kNotStored);
    return Outcome::kUnstored;
  }
  Queued q{m,     s.NextSeq(), std::move(d.subscription_ids),
           d.qos, d.retain,    std::move(d.shared_group)};
  const bool hold = HoldsForStore(s, q);
  if (online && !hold && s.queue_size() == 0 && s.unsent() == 0 && s.sent_inflight() < Window(*c) &&
      !c->conn->congested()) {
    const uint16_t id = s.NextPacketId();
    if (WritePublish(*c, *m, q.qos, q.retain, /*dup=*/false, id, q.subscription_ids, enc)) {
      const bool w = StoreDelivery(s, q, d.durable_token);
      s.AddInflight(std::move(q), id);
      s.inflight(s.inflight_size() - 1).sent = true;
      StoreSent(s, s.inflight(s.inflight_size() - 1));
      if (write != nullptr) {
        *write = w;
      }
    }
    return Outcome::kSent;
  }
  if (!QueueHasRoom(s, *m)) {
    MessageDropped(s, *m, q.qos, DropReason::kQueueFull);
    return Outcome::kRefused;
  }
  if (write != nullptr) {
    *write = StoreDelivery(s, q, d.durable_token);
  }
  queued_bytes_ += m->footprint();
  ShardCounters::Set(counters().queued_bytes, queued_bytes_);
  ShardCounters::Add(counters().queued_messages, 1);
  s.Enqueue(std::move(q));
  if (online && hold) {
    SendQueued(s);  // in flight at once, sent once its packet id is durable
  }
  return Outcome::kQueued;
}

bool BrokerShard::WriteAliasedPublish(Connection& c, const Message& m, Qos qos, bool retain,
                                      bool dup, uint16_t packet_id, const SubscriptionIds& ids) {
  // Topic aliases towards a 5.0 client that accepts them [MQTT-3.1.2-26/27],
  // [MQTT-3.3.2-11]: the encoding is this connection's own. The table is bounded by the
  // client's Topic Alias Maximum and by max_topic_alias_bytes of topic text; once full, new
  // topics go without an alias.
  if (!c.outbound_aliases) {
    c.outbound_aliases = std::make_unique<OutboundAliases>();
  }
  OutboundAliases& a = *c.outbound_aliases;
  mqtt::Publish p;
  std::string sub_buf;
  PublishEncoder local(m, now_ms());
  local.Fill(c.version, qos, retain, ids, &p, &sub_buf);
  p.dup = dup;
  p.packet_id = packet_id;
  uint16_t alias = 0;
  bool known = false;
  if (auto it = a.by_topic.find(base::ToAbsl(m.topic())); it != a.by_topic.end()) {
    alias = it->second;
    known = true;
  } else if (a.next <= c.client_topic_alias_max) {
    if (a.bytes + m.topic().size() <= config().max_topic_alias_bytes) {
      alias = a.next;
    } else {
      ShardCounters::Add(counters().alias_table_full, 1);
    }
  }
  if (alias != 0) {
    p.properties.SetTopicAlias(alias);
    if (known) {
      p.topic = {};
    }
  }
  const size_t n = mqtt::EncodedSize(p, c.version);
  if (n > c.client_max_packet_size) {
    return false;  // dropped for this client [MQTT-3.1.2-24/25]
  }
  if (alias != 0 && !known) {
    a.by_topic.emplace(std::string(m.topic()), alias);
    a.bytes += m.topic().size();
    ++a.next;
  }
  mqtt::Encode(p, c.version, c.conn->WriteUninitialized(n));
  ShardCounters::Add(counters().messages_out, 1);
  ShardCounters::Add(counters().messages_out_by_qos[static_cast<size_t>(qos)], 1);
  ShardCounters::Add(counters().bytes_out, n);
  return true;
}

bool BrokerShard::WritePublish(Connection& c, const Message& m, Qos qos, bool retain, bool dup,
                               uint16_t packet_id, const SubscriptionIds& ids,
                               PublishEncoder* enc) {
  const ProtocolVersion v = c.version;
  const bool aliased =
      mqtt::IsV5(v) && c.client_topic_alias_max > 0 && config().topic_alias_outbound;
  const bool written = aliased ? WriteAliasedPublish(c, m, qos, retain, dup, packet_id, ids)
                               : WriteSharedPublish(c, m, qos, retain, dup, packet_id, ids, enc);
  if (!written) {
    // Larger than the client's Maximum Packet Size: dropped for it [MQTT-3.1.2-24/25].
    MessageDropped(*c.session, m, qos, DropReason::kTooLarge);
  } else if (BrokerHooks* h = hooks_for(BrokerHooks::kWantDelivered); !dup && h != nullptr) {
    h->OnMessageDelivered({m, ClientInfoOf(c), qos});
  }
  return written;
}

bool BrokerShard::WriteSharedPublish(Connection& c, const Message& /*m*/, Qos qos, bool retain,
                                     bool dup, uint16_t packet_id, const SubscriptionIds& ids,
                                     PublishEncoder* enc) {
  const PublishEncoder::Variant& var = enc->Get(c.version, qos, retain, ids);
  const size_t n = var.bytes->size();
  if (n > c.client_max_packet_size) {
    return false;
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
  ShardCounters::Add(counters().messages_out_by_qos[static_cast<size_t>(qos)], 1);
  ShardCounters::Add(counters().bytes_out, n);
  return true;
}

void BrokerShard::EraseInflight(Session& s, size_t i) {
  Done(s, s.TakeInflight(i).seq);
}

Queued BrokerShard::TakeQueued(Session& s, size_t i) {
  Queued q = s.TakeQueued(i);
  queued_bytes_ -= q.msg->footprint();
  ShardCounters::Set(counters().queued_bytes, queued_bytes_);
  ShardCounters::Sub(counters().queued_messages, 1);
  return q;
}

bool BrokerShard::ResendOne(Session& s) {
  // The oldest in-flight message not yet sent on this connection, with its original id and
  // DUP set [MQTT-4.4.0-1]; a QoS 2 message past PUBREC gets its PUBREL again instead
  // [MQTT-4.3.3-6].
  Connection& c = *s.connection;
  const size_t i = s.sent_inflight();
  Inflight& f = s.inflight(i);
  if (f.state == Inflight::State::kAwaitPubcomp) {
    mqtt::Pubrel rel;
    rel.packet_id = f.packet_id;
    Write(c, rel);
    s.MarkNextSent();
    return true;
  }
  PublishEncoder enc(*f.msg, now_ms());
  if (!WritePublish(c, *f.msg, f.qos, f.retain, /*dup=*/f.sent, f.packet_id, f.subscription_ids,
                    &enc)) {
    EraseInflight(s, i);  // too large for this connection: dropped [MQTT-3.1.2-25]
    return false;
  }
  f.sent = true;
  s.MarkNextSent();
  return true;
}

bool BrokerShard::HoldsForStore(const Session& s, const Queued& q) const {
  return q.qos == Qos::k2 && s.persistent() && shared_.store->durable();
}

void BrokerShard::PutInTail(Session& s, Queued&& q, uint16_t packet_id) {
  const bool hold = HoldsForStore(s, q);
  s.AddInflightUnsent(std::move(q), packet_id);
  Inflight& f = s.inflight(s.inflight_size() - 1);
  const uint64_t token = hold ? NewToken() : 0;
  if (StoreSent(s, f, token)) {
    f.awaiting_store = true;
    held_sends_[token] = {std::string(s.client_id()), f.seq};
  }
}

void BrokerShard::ReleaseHeldSend(std::string_view client_id, uint64_t seq) {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end()) {
    return;  // ended meanwhile, with its messages
  }
  Session& s = **it;
  for (size_t i = 0; i < s.inflight_size(); ++i) {
    Inflight& f = s.inflight(i);
    if (f.seq == seq && f.awaiting_store) {
      f.awaiting_store = false;
      SendQueued(s);
      return;
    }
  }
}

void BrokerShard::SendQueued(Session& s) {
  Connection* c = s.connection;
  if (c == nullptr || c->state != Connection::State::kConnected || c->resume_pending) {
    return;
  }
  // 1. The unsent tail of in-flight, in order: messages to go out again after a resume, and
  //    QoS 2 messages of a persistent session once their packet id is durable (HoldsForStore),
  //    with what came after them.
  while (s.unsent() > 0 && s.sent_inflight() < Window(*c) && !c->conn->congested()) {
    if (s.inflight(s.sent_inflight()).awaiting_store) {
      break;
    }
    ResendOne(s);
  }
  // 2. Then the queue, as the window allows [MQTT-3.3.4-9], [MQTT-4.9.0-2]: written at once,
  //    or, behind an unsent tail or to wait for the store, into the tail.
  while (s.queue_size() > 0 && s.inflight_size() < Window(*c) && !c->conn->congested()) {
    Queued q = TakeQueued(s, 0);
    if (q.msg->Expired(now_ms())) {
      MessageDropped(s, *q.msg, q.qos, DropReason::kExpired);  // [MQTT-3.3.2-5]
      Done(s, q.seq);
      continue;
    }
    PublishEncoder enc(*q.msg, now_ms());
    if (q.qos == Qos::k0) {
      WritePublish(*c, *q.msg, Qos::k0, q.retain, false, 0, q.subscription_ids, &enc);
      continue;
    }
    const uint16_t id = s.NextPacketId();
    if (s.unsent() > 0 || HoldsForStore(s, q)) {
      PutInTail(s, std::move(q), id);
      continue;
    }
    if (!WritePublish(*c, *q.msg, q.qos, q.retain, false, id, q.subscription_ids, &enc)) {
      Done(s, q.seq);
      continue;
    }
    s.AddInflight(std::move(q), id);
    s.inflight(s.inflight_size() - 1).sent = true;
    StoreSent(s, s.inflight(s.inflight_size() - 1));
  }
}

}  // namespace ringmq::broker
