// PUBLISH from clients and the QoS 1/2 flows in both directions: inbound PUBLISH and PUBREL,
// and the client's acknowledgements of what the broker sent (PUBACK, PUBREC, PUBCOMP).
#include <algorithm>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/topic.h"
#include "core/mqtt/utf8.h"

namespace ringmq::broker {

using mqtt::Qos;
using mqtt::ReasonCode;

BrokerShard::TopicRefusal BrokerShard::CheckPublishTopic(std::string_view topic) const {
  if (mqtt::TopicLevelCount(topic) > config().max_topic_levels) {
    return {ReasonCode::kTopicNameInvalid, "topic has too many levels"};
  }
  if (topic.starts_with("$SYS")) {
    return {ReasonCode::kNotAuthorized, "$SYS topics are the broker's"};
  }
  return {};
}

namespace {

// Properties of a received PUBLISH that travel with the message [MQTT-3.3.2-4/15/16/17/20].
std::string_view ForwardProperties(const mqtt::Properties& in, std::string* scratch) {
  mqtt::Properties fp = in;
  fp.Clear(mqtt::PropertyId::kTopicAlias);
  fp.Clear(mqtt::PropertyId::kMessageExpiryInterval);
  fp.subscription_ids = mqtt::SubscriptionIdList();
  const size_t n = mqtt::PropertiesSize(fp);
  scratch->resize(n);
  if (n > 0) {
    mqtt::EncodePropertyBytes(reinterpret_cast<uint8_t*>(scratch->data()), fp);
  }
  return *scratch;
}

PendingResponse::Kind AckKind(Qos qos) {
  return qos == Qos::k1 ? PendingResponse::Kind::kPuback : PendingResponse::Kind::kPubrec;
}

}  // namespace

bool BrokerShard::ResolveTopicAlias(Connection& c, const mqtt::Publish& p,
                                    std::string_view* topic) {
  if (!p.properties.Has(mqtt::PropertyId::kTopicAlias)) {
    return true;
  }
  const uint16_t alias = p.properties.topic_alias;
  if (alias > config().max_topic_alias) {
    ProtocolViolation(c, ReasonCode::kTopicAliasInvalid,
                      "Topic Alias above the Topic Alias Maximum [MQTT-3.2.2-17]");
    return false;
  }
  if (!c.inbound_aliases) {
    c.inbound_aliases = std::make_unique<std::vector<std::string>>(config().max_topic_alias);
  }
  std::string& slot = (*c.inbound_aliases)[alias - 1];
  if (topic->empty()) {
    if (slot.empty()) {
      ProtocolViolation(c, ReasonCode::kProtocolError, "unknown Topic Alias");
      return false;
    }
    *topic = slot;
  } else {
    slot.assign(*topic);
  }
  return true;
}

bool BrokerShard::AdmitInboundQos(Connection& c, const mqtt::Publish& p) {
  Session& s = *c.session;
  if (p.qos == Qos::k0) {
    return true;
  }
  if (mqtt::IsV5(c.version)) {
    // Receive Maximum, announced and enforced [MQTT-3.3.4-7]: QoS 1 PUBLISHes whose PUBACK is
    // not out yet, and QoS 2 flows not completed by PUBREL, this connection's or an earlier
    // one's of the same session (the client keeps them in its session state too).
    if (c.pending_pubacks + s.unreleased() >= config().max_inflight) {
      ProtocolViolation(c, ReasonCode::kReceiveMaximumExceeded,
                        "more unacknowledged QoS 1/2 PUBLISHes than Receive Maximum");
      return false;
    }
    return true;
  }
  // 3.x clients were told no limit. QoS 1 acknowledgements are the broker's to give, so they
  // cannot pile up for long; unreleased QoS 2 ids wait on the client and are bounded.
  if (p.qos == Qos::k2 && s.unreleased() >= config().max_unreleased_qos2_v3) {
    ShardCounters::Add(counters().refused_unreleased_qos2, 1);
    ProtocolViolation(c, ReasonCode::kReceiveMaximumExceeded,
                      "too many QoS 2 packet ids without PUBREL (--max-unreleased-qos2-v3)");
    return false;
  }
  return true;
}

void BrokerShard::HandlePublish(Connection& c, mqtt::Publish& p) {
  Session& s = *c.session;
  const bool v5 = mqtt::IsV5(c.version);
  ShardCounters::Add(counters().messages_in, 1);
  ShardCounters::Add(counters().messages_in_by_qos[static_cast<size_t>(p.qos)], 1);

  // 1. Topic aliases (5.0, client -> server) [MQTT-3.3.2-12].
  std::string_view topic = p.topic;
  if (v5 && !ResolveTopicAlias(c, p, &topic)) {
    return;
  }
  if (v5 && !p.properties.subscription_ids.encoded().empty()) {
    ProtocolViolation(c, ReasonCode::kProtocolError,
                      "Subscription Identifier in a client's PUBLISH [MQTT-3.3.4-6]");
    return;
  }

  // 2. QoS 2 exactly once: a repeat of an id still awaiting PUBREL is acknowledged again and
  //    not forwarded again [MQTT-4.3.3-10].
  if (p.qos == Qos::k2 && s.HasUnreleased(p.packet_id)) {
    AddResponse(c, PendingResponse::Kind::kPubrec, p.packet_id).delivered = 1;
    FlushResponses(c);
    return;
  }
  if (!AdmitInboundQos(c, p)) {
    return;
  }

  // 3. Messages the broker will not take, then 4. the decision (authorisation): allowed,
  //    refused like the above, or pending.
  TopicRefusal refusal = CheckPublishedMessage(c, p, topic);
  Decision decision = Decision::Allow();
  uint64_t ticket = 0;
  if (BrokerHooks* h = hooks_for(BrokerHooks::kWantPublishDecision);
      refusal.reason == ReasonCode::kSuccess && h != nullptr) {
    ticket = NewToken();
    decision = h->OnPublish({ClientInfoOf(c), topic, p.payload, p.qos, p.retain, false}, ticket);
    if (decision.verdict == Verdict::kDeny) {
      refusal = {decision.reason, "not authorized"};
    }
  }
  if (refusal.reason != ReasonCode::kSuccess) {
    RefusePublish(c, p, refusal);
    return;
  }
  // 5. The message, routed.
  AcceptPublish(c, p, MessageFromPublish(s, p, topic, v5), decision, ticket);
}

BrokerShard::TopicRefusal BrokerShard::CheckPublishedMessage(const Connection& c,
                                                             const mqtt::Publish& p,
                                                             std::string_view topic) const {
  TopicRefusal refusal = CheckPublishTopic(topic);
  if (refusal.reason == ReasonCode::kSuccess && mqtt::IsV5(c.version) &&
      p.properties.payload_format_indicator == 1 && !mqtt::IsValidMqttUtf8(p.payload)) {
    // [MQTT-3.3.2-4]: checked when announced.
    refusal = {ReasonCode::kPayloadFormatInvalid,
               "payload is not valid UTF-8 as its Payload Format Indicator says"};
  }
  return refusal;
}

// With QoS 1/2 a 5.0 client is told why in the acknowledgement; 3.x gets a plain
// acknowledgement and the message is dropped [MQTT-3.3.5-2 (3.1.1)]; with QoS 0 there is
// nobody to tell, except by disconnecting.
void BrokerShard::RefusePublish(Connection& c, const mqtt::Publish& p, TopicRefusal refusal) {
  if (p.qos == Qos::k0) {
    if (mqtt::IsV5(c.version) && refusal.reason == ReasonCode::kPayloadFormatInvalid) {
      ProtocolViolation(c, refusal.reason, refusal.why);
    }
    return;
  }
  PendingResponse& r = AddResponse(c, AckKind(p.qos), p.packet_id);
  r.reason = refusal.reason;
  r.delivered = 1;  // not "no subscribers": the reason says what happened
  c.pending_pubacks += p.qos == Qos::k1;
  FlushResponses(c);
}

MessageRef BrokerShard::MessageFromPublish(const Session& s, const mqtt::Publish& p,
                                           std::string_view topic, bool v5) {
  MessageInit init;
  init.topic = topic;
  init.payload = p.payload;
  init.publisher_id = s.client_id();
  init.qos = p.qos;
  init.retain = p.retain;
  init.id = NewMessageId();
  init.store_refused = !StoreAccepting();
  if (v5) {
    init.forward_properties = ForwardProperties(p.properties, &forward_scratch_);
    if (p.properties.Has(mqtt::PropertyId::kMessageExpiryInterval)) {
      init.expiry_deadline_ms = now_ms() + int64_t{p.properties.message_expiry_interval_s} * 1000;
      if (init.expiry_deadline_ms == 0) {
        init.expiry_deadline_ms = 1;  // 0 means "never"; an interval of 0 expires at once
      }
    }
  }
  return Message::Create(init);
}

// Routes `m` (at once, or when a pending decision allows it); QoS 1/2 are acknowledged once
// every target shard has it (durably, for persistent sessions) [MQTT-4.3.2-4], [MQTT-4.3.3-8].
void BrokerShard::AcceptPublish(Connection& c, const mqtt::Publish& p, MessageRef m,
                                const Decision& decision, uint64_t ticket) {
  if (p.qos == Qos::k0 && decision.allowed()) {
    Route(m, nullptr);
    return;
  }
  Session& s = *c.session;
  PendingResponse& r =
      AddResponse(c, p.qos == Qos::k0 ? PendingResponse::Kind::kNone : AckKind(p.qos), p.packet_id);
  if (p.qos == Qos::k2 && (m->store_refused() || (s.persistent() && !StoreAccepting()))) {
    // Made while the store refuses: refused before it reaches anyone (RefuseUnstored). Routed
    // to clean sessions only, its packet id would be free again after the refusal and a
    // resend would reach them twice; and a persistent publisher's id must be kept.
    s.AddUnreleased(p.packet_id);
    r.unstored = true;
    r.refused_unwritten = true;
    FlushResponses(c);
    return;
  }
  if (p.qos == Qos::k2) {
    s.AddUnreleased(p.packet_id);
    AwaitParts(c, r, StoreUnreleased(s, p.packet_id, /*added=*/true, r.token) ? 1 : 0);
  } else if (p.qos == Qos::k1) {
    ++c.pending_pubacks;
  }
  if (!decision.allowed()) {
    // Pending: the message is routed when the decision comes (ResponsePartDone), and the
    // client's later packets wait behind it, in order.
    r.message = std::move(m);
    AskDecision(c, r, decision, ticket, -1);
    c.blocked = true;
    FlushResponses(c);
    return;
  }
  AwaitParts(c, r, Route(m, &r));  // Route adds no response: `r` stays valid
  Defer(c, r);
  FlushResponses(c);
}

void BrokerShard::HandlePuback(Connection& c, const mqtt::Puback& p) {
  Session& s = *c.session;
  const ptrdiff_t i = s.FindInflight(p.packet_id, Inflight::State::kAwaitPuback);
  if (i < 0) {
    RINGMQ_LOG(kDebug, "client %s: PUBACK for unknown packet id %d", ClientId(c), p.packet_id);
    return;
  }
  EraseInflight(s, static_cast<size_t>(i));  // delivered: QoS 1 done [MQTT-4.3.2-3]
  SendQueued(s);
}

void BrokerShard::HandlePubrec(Connection& c, const mqtt::Pubrec& p) {
  Session& s = *c.session;
  const ptrdiff_t i = s.FindInflight(p.packet_id, Inflight::State::kAwaitPubrec);
  mqtt::Pubrel rel;
  rel.packet_id = p.packet_id;
  if (i < 0) {
    // Not ours (any more): tell the client so it can finish [MQTT-4.3.3-11 mirrored].
    rel.reason = ReasonCode::kPacketIdentifierNotFound;
    Write(c, rel);
    return;
  }
  if (mqtt::IsFailure(p.reason)) {
    EraseInflight(s, static_cast<size_t>(i));  // refused: finished, never sent again [MQTT-4.4.0-2]
    SendQueued(s);
    return;
  }
  // Second half: the message itself is no longer needed, only its id [MQTT-4.3.3-4]. The
  // PUBREL waits until that is durable: sent before, a crash would make the broker send the
  // message again, which the client, its id completed, would take for a new one.
  s.AwaitPubcomp(static_cast<size_t>(i));
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kPubrel, p.packet_id);
  AwaitParts(c, r, StoreSent(s, s.inflight(static_cast<size_t>(i)), r.token) ? 1 : 0);
  FlushResponses(c);
}

void BrokerShard::HandlePubcomp(Connection& c, const mqtt::Pubcomp& p) {
  Session& s = *c.session;
  const ptrdiff_t i = s.FindInflight(p.packet_id, Inflight::State::kAwaitPubcomp);
  if (i < 0) {
    RINGMQ_LOG(kDebug, "client %s: PUBCOMP for unknown packet id %d", ClientId(c), p.packet_id);
    return;
  }
  EraseInflight(s, static_cast<size_t>(i));  // [MQTT-4.3.3-5]
  SendQueued(s);
}

void BrokerShard::HandlePubrel(Connection& c, const mqtt::Pubrel& p) {
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kPubcomp, p.packet_id);
  // A new PUBLISH with this id is a new message from now on [MQTT-4.3.3-12].
  if (!c.session->Release(p.packet_id)) {
    r.reason = ReasonCode::kPacketIdentifierNotFound;  // [MQTT-4.3.3-11]
  } else {
    // The PUBCOMP waits until the release is durable: sent before, a crash would leave the
    // id unreleased, and the client's next message with it would be taken for a duplicate.
    AwaitParts(c, r, StoreUnreleased(*c.session, p.packet_id, /*added=*/false, r.token) ? 1 : 0);
  }
  FlushResponses(c);
}

void BrokerShard::HandleDisconnect(Connection& c, const mqtt::Disconnect& d) {
  if (mqtt::IsV5(c.version)) {
    if (d.properties.Has(mqtt::PropertyId::kSessionExpiryInterval)) {
      if (c.connect_session_expiry_s == 0 && d.properties.session_expiry_interval_s != 0) {
        ProtocolViolation(c, ReasonCode::kProtocolError,
                          "Session Expiry Interval set in DISCONNECT after 0 in CONNECT");
        return;
      }
      const bool was_persistent = c.session->persistent();
      c.session->expiry_s =
          std::min(d.properties.session_expiry_interval_s, config().max_session_expiry_s);
      StoreSession(*c.session);
      if (was_persistent && !c.session->persistent()) {
        store().SessionEnded(c.session->client_id(), 0);  // it ends with this connection now
      }
    }
    // Only reason 0x00 discards the will; 0x04 and the error codes keep it [MQTT-3.1.2-8].
    c.will_suppressed = d.reason == ReasonCode::kSuccess;
  } else {
    c.will_suppressed = true;  // any 3.x DISCONNECT discards the will [MQTT-3.14.4-3 (3.1.1)]
  }
  ConnectionGone(c, !c.will_suppressed);
  CloseConnection(c, net::CloseMode::kAfterFlush, 0);
}

}  // namespace ringmq::broker
