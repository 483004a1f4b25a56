// PUBLISH from clients and the QoS 1/2 acknowledgement flows in both directions; writing the
// ordered responses.
#include <algorithm>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/decoder.h"
#include "core/mqtt/topic.h"
#include "core/mqtt/utf8.h"

namespace ringmq::broker {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

mqtt::SinkAction BrokerShard::HandlePacket(Connection& c, const mqtt::FixedHeader& h,
                                           std::span<const uint8_t> body) {
  const ProtocolVersion v = c.version;
  mqtt::DecodeStatus s;
  switch (h.type) {
    case PacketType::kPublish: {
      mqtt::Publish p;
      s = mqtt::DecodePublish(v, h, body, &p);
      if (s.ok()) {
        HandlePublish(c, p);
      }
      break;
    }
    case PacketType::kPuback: {
      mqtt::Puback p;
      s = mqtt::DecodePuback(v, h, body, &p);
      if (s.ok()) {
        HandlePuback(c, p);
      }
      break;
    }
    case PacketType::kPubrec: {
      mqtt::Pubrec p;
      s = mqtt::DecodePubrec(v, h, body, &p);
      if (s.ok()) {
        HandlePubrec(c, p);
      }
      break;
    }
    case PacketType::kPubrel: {
      mqtt::Pubrel p;
      s = mqtt::DecodePubrel(v, h, body, &p);
      if (s.ok()) {
        HandlePubrel(c, p);
      }
      break;
    }
    case PacketType::kPubcomp: {
      mqtt::Pubcomp p;
      s = mqtt::DecodePubcomp(v, h, body, &p);
      if (s.ok()) {
        HandlePubcomp(c, p);
      }
      break;
    }
    case PacketType::kSubscribe: {
      mqtt::Subscribe p;
      s = mqtt::DecodeSubscribe(v, h, body, &p);
      if (s.ok()) {
        HandleSubscribe(c, p);
      }
      break;
    }
    case PacketType::kUnsubscribe: {
      mqtt::Unsubscribe p;
      s = mqtt::DecodeUnsubscribe(v, h, body, &p);
      if (s.ok()) {
        HandleUnsubscribe(c, p);
      }
      break;
    }
    case PacketType::kPingreq:
      s = mqtt::DecodePingreq(h, body);
      if (s.ok()) {
        Write(c, mqtt::Pingresp{});  // [MQTT-3.12.4-1]
      }
      break;
    case PacketType::kDisconnect: {
      mqtt::Disconnect p;
      s = mqtt::DecodeDisconnect(v, h, body, &p);
      if (s.ok()) {
        HandleDisconnect(c, p);
      }
      break;
    }
    case PacketType::kConnect:
      s = mqtt::DecodeStatus::Protocol("a second CONNECT [MQTT-3.1.0-2]");
      break;
    case PacketType::kAuth: {
      mqtt::Auth p;
      s = mqtt::DecodeAuth(v, h, body, &p);
      if (s.ok()) {
        s = mqtt::DecodeStatus::Protocol("AUTH without an Authentication Method [MQTT-4.12.0-7]");
      }
      break;
    }
    default:
      s = mqtt::DecodeStatus::Protocol("a packet type only a server sends");
      break;
  }
  if (!s.ok()) {
    ProtocolViolation(c, s.reason, s.detail);
    return mqtt::SinkAction::kStop;
  }
  return c.state == Connection::State::kConnected && !c.blocked ? mqtt::SinkAction::kContinue
                                                                : mqtt::SinkAction::kStop;
}

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

}  // namespace

void BrokerShard::HandlePublish(Connection& c, mqtt::Publish& p) {
  Session& s = *c.session;
  const bool v5 = mqtt::IsV5(c.version);
  ShardCounters::Add(counters().messages_in, 1);

  // 1. Topic aliases (5.0, client -> server) [MQTT-3.3.2-12].
  std::string_view topic = p.topic;
  if (v5 && p.properties.Has(mqtt::PropertyId::kTopicAlias)) {
    const uint16_t alias = p.properties.topic_alias;
    if (alias > config().max_topic_alias) {
      ProtocolViolation(c, ReasonCode::kTopicAliasInvalid,
                        "Topic Alias above the Topic Alias Maximum [MQTT-3.2.2-17]");
      return;
    }
    if (!c.inbound_aliases) {
      c.inbound_aliases = std::make_unique<std::vector<std::string>>(config().max_topic_alias);
    }
    std::string& slot = (*c.inbound_aliases)[alias - 1];
    if (topic.empty()) {
      if (slot.empty()) {
        ProtocolViolation(c, ReasonCode::kProtocolError, "unknown Topic Alias");
        return;
      }
      topic = slot;
    } else {
      slot.assign(topic);
    }
  }
  if (v5 && !p.properties.subscription_ids.encoded().empty()) {
    ProtocolViolation(c, ReasonCode::kProtocolError,
                      "Subscription Identifier in a client's PUBLISH [MQTT-3.3.4-6]");
    return;
  }

  // 2. Messages the broker will not take. With QoS 1/2 a 5.0 client is told why in the
  //    acknowledgement; 3.x gets a plain acknowledgement and the message is dropped
  //    [MQTT-3.3.5-2 (3.1.1)]; with QoS 0 there is nobody to tell, except by disconnecting.
  TopicRefusal refusal = CheckPublishTopic(topic);
  ReasonCode refuse = refusal.reason;
  const char* why = refusal.why;
  if (refuse == ReasonCode::kSuccess && v5 && p.properties.payload_format_indicator == 1 &&
      !mqtt::IsValidMqttUtf8(p.payload)) {
    refuse = ReasonCode::kPayloadFormatInvalid;  // [MQTT-3.3.2-4]: checked when announced
    why = "payload is not valid UTF-8 as its Payload Format Indicator says";
  }

  // 3. QoS 2 exactly once: a repeat of an id still awaiting PUBREL is acknowledged again and
  //    not forwarded again [MQTT-4.3.3-10].
  if (p.qos == Qos::k2) {
    if (std::find(s.inbound_qos2.begin(), s.inbound_qos2.end(), p.packet_id) !=
        s.inbound_qos2.end()) {
      // The same answer as the first time: the message was taken then.
      AddResponse(c, PendingResponse::Kind::kPubrec, p.packet_id).delivered = 1;
      FlushResponses(c);
      return;
    }
  }
  if (p.qos != Qos::k0) {
    // Receive Maximum: announced to 5.0 clients, enforced on them [MQTT-3.3.4-7]; 3.x
    // clients were told no limit, so they are slowed down instead of disconnected.
    if (c.inbound_unacked >= config().max_inflight) {
      if (v5) {
        ProtocolViolation(c, ReasonCode::kReceiveMaximumExceeded,
                          "more unacknowledged QoS 1/2 PUBLISHes than Receive Maximum");
        return;
      }
    }
    ++c.inbound_unacked;
  }
  if (refuse != ReasonCode::kSuccess) {
    if (p.qos == Qos::k0) {
      if (v5 && refuse == ReasonCode::kPayloadFormatInvalid) {
        ProtocolViolation(c, refuse, why);
      }
      return;
    }
    PendingResponse& r = AddResponse(
        c, p.qos == Qos::k1 ? PendingResponse::Kind::kPuback : PendingResponse::Kind::kPubrec,
        p.packet_id);
    r.reason = refuse;
    r.delivered = 1;  // not "no subscribers": the reason says what happened
    FlushResponses(c);
    return;
  }

  // 4. The message, routed; QoS 1/2 acknowledged once every target shard has it
  //    [MQTT-4.3.2-4], [MQTT-4.3.3-8].
  MessageInit init;
  init.topic = topic;
  init.payload = p.payload;
  init.publisher_id = s.client_id();
  init.qos = p.qos;
  init.retain = p.retain;
  if (v5) {
    init.forward_properties = ForwardProperties(p.properties, &forward_scratch_);
    if (p.properties.Has(mqtt::PropertyId::kMessageExpiryInterval)) {
      init.expiry_deadline_ms = now_ms() + int64_t{p.properties.message_expiry_interval_s} * 1000;
      if (init.expiry_deadline_ms == 0) {
        init.expiry_deadline_ms = 1;  // 0 means "never"; an interval of 0 expires at once
      }
    }
  }
  MessageRef m = Message::Create(init);
  if (p.qos == Qos::k0) {
    Route(m, nullptr);
    return;
  }
  if (p.qos == Qos::k2) {
    s.inbound_qos2.push_back(p.packet_id);
  }
  PendingResponse& r = AddResponse(
      c, p.qos == Qos::k1 ? PendingResponse::Kind::kPuback : PendingResponse::Kind::kPubrec,
      p.packet_id);
  const uint32_t remote = Route(m, &r);  // adds no response: `r` stays valid
  AwaitParts(c, r, remote);
  Defer(c, r);
  FlushResponses(c);
}

void BrokerShard::HandlePuback(Connection& c, const mqtt::Puback& p) {
  Session& s = *c.session;
  for (size_t i = 0; i < s.inflight.size(); ++i) {
    Inflight& f = s.inflight[i];
    if (f.packet_id == p.packet_id && f.state == Inflight::State::kAwaitPuback) {
      EraseInflight(s, i);  // delivered: QoS 1 done [MQTT-4.3.2-3]
      SendQueued(s);
      return;
    }
  }
  RINGMQ_LOG(kDebug, "client %s: PUBACK for unknown packet id %d", ClientId(c), p.packet_id);
}

void BrokerShard::HandlePubrec(Connection& c, const mqtt::Pubrec& p) {
  Session& s = *c.session;
  for (size_t i = 0; i < s.inflight.size(); ++i) {
    Inflight& f = s.inflight[i];
    if (f.packet_id != p.packet_id || f.state != Inflight::State::kAwaitPubrec) {
      continue;
    }
    if (mqtt::IsFailure(p.reason)) {
      EraseInflight(s, i);  // refused: finished, never sent again [MQTT-4.4.0-2]
      SendQueued(s);
      return;
    }
    // Second half: the message itself is no longer needed, only its id [MQTT-4.3.3-4].
    f.state = Inflight::State::kAwaitPubcomp;
    f.msg = MessageRef();
    mqtt::Pubrel rel;
    rel.packet_id = p.packet_id;
    Write(c, rel);
    return;
  }
  // Not ours (any more): tell the client so it can finish [MQTT-4.3.3-11 mirrored].
  mqtt::Pubrel rel;
  rel.packet_id = p.packet_id;
  rel.reason = ReasonCode::kPacketIdentifierNotFound;
  Write(c, rel);
}

void BrokerShard::HandlePubcomp(Connection& c, const mqtt::Pubcomp& p) {
  Session& s = *c.session;
  for (size_t i = 0; i < s.inflight.size(); ++i) {
    Inflight& f = s.inflight[i];
    if (f.packet_id == p.packet_id && f.state == Inflight::State::kAwaitPubcomp) {
      EraseInflight(s, i);  // [MQTT-4.3.3-5]
      SendQueued(s);
      return;
    }
  }
  RINGMQ_LOG(kDebug, "client %s: PUBCOMP for unknown packet id %d", ClientId(c), p.packet_id);
}

void BrokerShard::HandlePubrel(Connection& c, const mqtt::Pubrel& p) {
  Session& s = *c.session;
  auto it = std::find(s.inbound_qos2.begin(), s.inbound_qos2.end(), p.packet_id);
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kPubcomp, p.packet_id);
  if (it == s.inbound_qos2.end()) {
    r.reason = ReasonCode::kPacketIdentifierNotFound;  // [MQTT-4.3.3-11]
  } else {
    s.inbound_qos2.erase(it);  // a new PUBLISH with this id is a new message [MQTT-4.3.3-12]
    if (c.inbound_unacked > 0) {
      --c.inbound_unacked;
    }
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
      c.session->expiry_s =
          std::min(d.properties.session_expiry_interval_s, config().max_session_expiry_s);
      if (c.session->persistent()) {
        store().SessionUpdated(c.session->client_id(), c.session->expiry_s, 0);
      }
    }
    // Only reason 0x00 discards the will; 0x04 and the error codes keep it [MQTT-3.1.2-8].
    c.will_suppressed = d.reason == ReasonCode::kSuccess;
  } else {
    c.will_suppressed = true;  // any 3.x DISCONNECT discards the will [MQTT-3.14.4-3 (3.1.1)]
  }
  ConnectionGone(c, !c.will_suppressed);
  c.state = Connection::State::kClosing;
  DropResponses(c);
  shard_.timers().Cancel(&c.timer);
  shard_.reactor().Close(*c.conn, net::CloseMode::kAfterFlush, 0);
}

void BrokerShard::WriteResponse(Connection& c, PendingResponse& r) {
  switch (r.kind) {
    case PendingResponse::Kind::kConnack:
      FinishConnect(c);
      return;
    case PendingResponse::Kind::kPuback:
    case PendingResponse::Kind::kPubrec: {
      ReasonCode rc = r.reason;
      if (rc == ReasonCode::kSuccess && r.delivered == 0) {
        // Nobody could take it: every matching queue was full (5.0 "Quota exceeded"); or
        // nobody matched (5.0 "No matching subscribers", still a success).
        rc = r.refused > 0 ? ReasonCode::kQuotaExceeded : ReasonCode::kNoMatchingSubscribers;
      }
      if (r.kind == PendingResponse::Kind::kPuback) {
        mqtt::Puback a;
        a.packet_id = r.packet_id;
        a.reason = rc;
        Write(c, a);
        if (c.inbound_unacked > 0) {
          --c.inbound_unacked;
        }
      } else {
        mqtt::Pubrec a;
        a.packet_id = r.packet_id;
        a.reason = rc;
        Write(c, a);
        if (mqtt::IsFailure(rc) && c.session != nullptr) {
          // A refused QoS 2 message ends its flow here [MQTT-4.3.3-9].
          auto& ids = c.session->inbound_qos2;
          ids.erase(std::remove(ids.begin(), ids.end(), r.packet_id), ids.end());
          if (c.inbound_unacked > 0) {
            --c.inbound_unacked;
          }
        }
      }
      return;
    }
    case PendingResponse::Kind::kPubcomp: {
      mqtt::Pubcomp a;
      a.packet_id = r.packet_id;
      a.reason = r.reason;
      Write(c, a);
      return;
    }
    case PendingResponse::Kind::kSuback: {
      mqtt::Suback a;
      a.packet_id = r.packet_id;
      a.reasons.assign(r.codes.begin(), r.codes.end());
      Write(c, a);
      if (r.retained_request != 0) {
        auto it = retained_requests_.find(r.retained_request);
        if (it != retained_requests_.end()) {
          it->second->suback_sent = true;  // retained messages follow the SUBACK
          MaybeSendRetained(r.retained_request);
        }
      }
      return;
    }
    case PendingResponse::Kind::kUnsuback: {
      mqtt::Unsuback a;
      a.packet_id = r.packet_id;
      a.reasons.assign(r.codes.begin(), r.codes.end());
      Write(c, a);
      return;
    }
  }
}

}  // namespace ringmq::broker
