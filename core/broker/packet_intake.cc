// Bytes in: the read pump of a connection, input held while it must wait, reading held for
// the broker's own reasons, and dispatch of each packet by type.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/decoder.h"

namespace ringmq::broker {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

void BrokerShard::ProcessInput(Connection& c, std::span<const uint8_t> data) {
  switch (c.state) {
    case Connection::State::kAwaitConnect:
      c.Held().append(reinterpret_cast<const char*>(data.data()), data.size());
      HandleAwaitConnect(c);
      return;
    case Connection::State::kAuthorizing:
      HoldInput(c, data);  // pipelined after a CONNECT that waits for its decision
      if (c.auth != nullptr && c.auth->awaiting_client) {
        TryAuthPacket(c);  // the next step of an enhanced authentication
      }
      return;
    case Connection::State::kConnected: {
      if (c.blocked || c.held_size() > 0) {
        HoldInput(c, data);  // behind a pending decision, or behind earlier held input
        return;
      }
      mqtt::ReadResult r = c.reader.Read(
          data, [&](const mqtt::FixedHeader& h, auto body) { return HandlePacket(c, h, body); });
      if (r.status == mqtt::ReadStatus::kStopped && c.state == Connection::State::kConnected) {
        // A decision is pending, or this shard's mailboxes filled up: the rest waits.
        HoldInput(c, data.subspan(r.consumed));
        if (!c.blocked) {
          HoldForBacklog(c);
        }
        return;
      }
      if (r.status == mqtt::ReadStatus::kMalformed) {
        ProtocolViolation(c, ReasonCode::kMalformedPacket,
                          "bad fixed header or Remaining Length [MQTT-1.5.5-1]");
      } else if (r.status == mqtt::ReadStatus::kTooLarge) {
        ProtocolViolation(c, ReasonCode::kPacketTooLarge,
                          "packet exceeds the Maximum Packet Size [MQTT-3.2.2-15]");
      }
      return;
    }
    case Connection::State::kClosing:
      return;
  }
}

void BrokerShard::HoldInput(Connection& c, std::span<const uint8_t> data) {
  c.Held().append(reinterpret_cast<const char*>(data.data()), data.size());
  if (c.held_size() > config().max_packet_size) {
    HoldReading(c, kHoldPending);  // keep what came, read no more for now
  }
}

void BrokerShard::ReleaseHeldInput(Connection& c) {
  ReleaseReading(c, kHoldPending);
  std::unique_ptr<std::string> rest = std::move(c.held);
  if (rest != nullptr && !rest->empty() && c.state == Connection::State::kConnected) {
    ProcessInput(c, std::span(reinterpret_cast<const uint8_t*>(rest->data()), rest->size()));
  }
  FinishPeerClosed(c);
}

void BrokerShard::HoldForBacklog(Connection& c) {
  if ((c.read_holds & kHoldBacklog) == 0) {
    held_for_backlog_.push_back(c.conn->id());
  }
  HoldReading(c, kHoldBacklog);
}

void BrokerShard::HoldReading(Connection& c, ReadHold reason) {
  if (c.read_holds == 0) {
    c.held_since_ms = now_ms();
    if (!c.conn->read_paused()) {
      shard_.reactor().PauseRead(*c.conn);
    }
  }
  c.read_holds |= reason;
}

void BrokerShard::ReleaseReading(Connection& c, ReadHold reason) {
  if ((c.read_holds & reason) == 0) {
    return;
  }
  c.read_holds &= ~reason;
  if (c.read_holds == 0) {
    // The time the broker refused to read is not the client's silence (keep alive).
    c.last_packet_ms += now_ms() - c.held_since_ms;
    shard_.reactor().ResumeRead(*c.conn);
  }
}

void BrokerShard::FinishPeerClosed(Connection& c) {
  if (!c.peer_closed || c.blocked || c.held_size() > 0 ||
      c.state != Connection::State::kConnected) {
    return;
  }
  // Everything the client sent has been handled; it is gone without DISCONNECT.
  ConnectionGone(c, /*publish_will=*/true);
  CloseConnection(c, net::CloseMode::kAfterFlush, 0);
}

mqtt::SinkAction BrokerShard::HandlePacket(Connection& c, const mqtt::FixedHeader& h,
                                           std::span<const uint8_t> body) {
  const ProtocolVersion v = c.version;
  c.last_packet_ms = now_ms();  // a whole control packet: the client is alive [MQTT-3.1.2-22]
  mqtt::DecodeStatus s;
  // Decodes the packet as `P` and hands it to `handle` when it is well formed.
  auto dispatch = [&]<typename P>(
                      mqtt::DecodeStatus (*decode)(ProtocolVersion, const mqtt::FixedHeader&,
                                                   std::span<const uint8_t>, P*),
                      auto handle) {
    P p;
    s = decode(v, h, body, &p);
    if (s.ok()) {
      handle(p);
    }
  };
  switch (h.type) {
    case PacketType::kPublish:
      dispatch(&mqtt::DecodePublish, [&](mqtt::Publish& p) { HandlePublish(c, p); });
      break;
    case PacketType::kPuback:
      dispatch(&mqtt::DecodePuback, [&](mqtt::Puback& p) { HandlePuback(c, p); });
      break;
    case PacketType::kPubrec:
      dispatch(&mqtt::DecodePubrec, [&](mqtt::Pubrec& p) { HandlePubrec(c, p); });
      break;
    case PacketType::kPubrel:
      dispatch(&mqtt::DecodePubrel, [&](mqtt::Pubrel& p) { HandlePubrel(c, p); });
      break;
    case PacketType::kPubcomp:
      dispatch(&mqtt::DecodePubcomp, [&](mqtt::Pubcomp& p) { HandlePubcomp(c, p); });
      break;
    case PacketType::kSubscribe:
      dispatch(&mqtt::DecodeSubscribe, [&](mqtt::Subscribe& p) { HandleSubscribe(c, p); });
      break;
    case PacketType::kUnsubscribe:
      dispatch(&mqtt::DecodeUnsubscribe, [&](mqtt::Unsubscribe& p) { HandleUnsubscribe(c, p); });
      break;
    case PacketType::kPingreq:
      s = mqtt::DecodePingreq(h, body);
      if (s.ok()) {
        Write(c, mqtt::Pingresp{});  // [MQTT-3.12.4-1]
      }
      break;
    case PacketType::kDisconnect:
      dispatch(&mqtt::DecodeDisconnect, [&](mqtt::Disconnect& p) { HandleDisconnect(c, p); });
      break;
    case PacketType::kConnect:
      s = mqtt::DecodeStatus::Protocol("a second CONNECT [MQTT-3.1.0-2]");
      break;
    case PacketType::kAuth:
      dispatch(&mqtt::DecodeAuth, [&](mqtt::Auth& p) { s = HandleAuth(c, p); });
      break;
    default:
      s = mqtt::DecodeStatus::Protocol("a packet type only a server sends");
      break;
  }
  if (!s.ok()) {
    ProtocolViolation(c, s.reason, s.detail);
    return mqtt::SinkAction::kStop;
  }
  // Back-pressure across shards: once the mailboxes are full, the next packets wait (each
  // could make more messages for other shards).
  const bool go_on = c.state == Connection::State::kConnected && !c.blocked && !shard_.backlogged();
  return go_on ? mqtt::SinkAction::kContinue : mqtt::SinkAction::kStop;
}

}  // namespace ringmq::broker
