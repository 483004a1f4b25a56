// Helpers for simulation tests over SteppedBroker: connect, subscribe and wait for answers by
// stepping every shard until the packet is there (bounded: a test never hangs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/mqtt/packets.h"
#include "tests/testing/stepped_broker.h"

namespace ringmq::testing {

// Steps every shard until `c` has received a packet of `type` (other packets are kept in
// *others when given), at most `rounds` rounds. Returns it, or nullopt.
inline std::optional<ReceivedPacket> StepUntil(SteppedBroker& b, SimClient& c,
                                               mqtt::PacketType type,
                                               std::vector<ReceivedPacket>* others = nullptr,
                                               int rounds = 50) {
  for (int r = 0; r < rounds; ++r) {
    b.StepAll();
    auto got = c.Read();
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      return std::nullopt;
    }
    std::optional<ReceivedPacket> found;
    for (ReceivedPacket& p : *got) {
      if (!found && p.type() == type) {
        found = p;
      } else if (others != nullptr) {
        others->push_back(p);
      }
    }
    if (found) {
      return found;
    }
  }
  return std::nullopt;
}

// A CONNECT for `id` (viewed, not copied: `id` must outlive the packet).
inline mqtt::Connect ConnectPacket(const std::string& id,
                                   mqtt::ProtocolVersion v = mqtt::ProtocolVersion::kMqtt5) {
  mqtt::Connect c;
  c.version = v;
  c.client_id = id;
  c.clean_start = true;
  c.keep_alive_s = 0;
  return c;
}

// A client on `shard` connected as `id` (its session lives on HomeShard(id)).
inline std::unique_ptr<SimClient> ConnectClient(
    SteppedBroker& b, uint32_t shard, const std::string& id,
    mqtt::ProtocolVersion v = mqtt::ProtocolVersion::kMqtt5) {
  std::unique_ptr<SimClient> c = b.Accept(shard, v);
  c->Send(ConnectPacket(id, v));
  auto ack = StepUntil(b, *c, mqtt::PacketType::kConnack);
  EXPECT_TRUE(ack.has_value()) << "no CONNACK for " << id;
  return c;
}

inline void SubscribeClient(SteppedBroker& b, SimClient& c, std::string filter,
                            mqtt::Qos qos = mqtt::Qos::k0, uint16_t packet_id = 1) {
  mqtt::Subscribe s;
  s.packet_id = packet_id;
  mqtt::Subscription sub;
  sub.filter = filter;
  sub.options.max_qos = qos;
  s.subscriptions.push_back(sub);
  c.Send(s);
  auto ack = StepUntil(b, c, mqtt::PacketType::kSuback);
  EXPECT_TRUE(ack.has_value()) << "no SUBACK for " << filter;
}

inline mqtt::Publish PublishPacket(std::string_view topic, std::string_view payload,
                                   mqtt::Qos qos = mqtt::Qos::k0, uint16_t packet_id = 0) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = qos;
  p.packet_id = packet_id;
  return p;
}

}  // namespace ringmq::testing
