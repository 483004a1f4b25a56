// Framing and decoding: ParseFixedHeader, DecodeOne, and a round trip (encode, then decode,
// then compare every field) of every packet type in every protocol version that has it.

#include "core/mqtt/decoder.h"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "core/mqtt/encoder.h"
#include "core/mqtt/packets.h"
#include "core/mqtt/properties.h"

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;
using V = ProtocolVersion;

std::span<const uint8_t> AsSpan(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<std::pair<std::string, std::string>> UserProps(const Properties& p) {
  std::vector<std::pair<std::string, std::string>> out;
  for (UserProperty u : p.user_properties) {
    out.emplace_back(u.name, u.value);
  }
  return out;
}

std::vector<uint32_t> SubIds(const Properties& p) {
  std::vector<uint32_t> out;
  for (uint32_t id : p.subscription_ids) {
    out.push_back(id);
  }
  return out;
}

void ExpectPropertiesEq(const Properties& got, const Properties& want) {
  EXPECT_EQ(got.present, want.present);
  EXPECT_EQ(got.payload_format_indicator, want.payload_format_indicator);
  EXPECT_EQ(got.request_problem_information, want.request_problem_information);
  EXPECT_EQ(got.request_response_information, want.request_response_information);
  EXPECT_EQ(got.maximum_qos, want.maximum_qos);
  EXPECT_EQ(got.retain_available, want.retain_available);
  EXPECT_EQ(got.wildcard_subscription_available, want.wildcard_subscription_available);
  EXPECT_EQ(got.subscription_identifier_available, want.subscription_identifier_available);
  EXPECT_EQ(got.shared_subscription_available, want.shared_subscription_available);
  EXPECT_EQ(got.server_keep_alive_s, want.server_keep_alive_s);
  EXPECT_EQ(got.receive_maximum, want.receive_maximum);
  EXPECT_EQ(got.topic_alias_maximum, want.topic_alias_maximum);
  EXPECT_EQ(got.topic_alias, want.topic_alias);
  EXPECT_EQ(got.message_expiry_interval_s, want.message_expiry_interval_s);
  EXPECT_EQ(got.session_expiry_interval_s, want.session_expiry_interval_s);
  EXPECT_EQ(got.will_delay_interval_s, want.will_delay_interval_s);
  EXPECT_EQ(got.maximum_packet_size, want.maximum_packet_size);
  EXPECT_EQ(got.content_type, want.content_type);
  EXPECT_EQ(got.response_topic, want.response_topic);
  EXPECT_EQ(got.correlation_data, want.correlation_data);
  EXPECT_EQ(got.assigned_client_identifier, want.assigned_client_identifier);
  EXPECT_EQ(got.authentication_method, want.authentication_method);
  EXPECT_EQ(got.authentication_data, want.authentication_data);
  EXPECT_EQ(got.response_information, want.response_information);
  EXPECT_EQ(got.server_reference, want.server_reference);
  EXPECT_EQ(got.reason_string, want.reason_string);
  EXPECT_EQ(UserProps(got), UserProps(want));
  EXPECT_EQ(SubIds(got), SubIds(want));
}

void ExpectNoProperties(const Properties& p) {
  ExpectPropertiesEq(p, Properties{});
}

// Encodes `in` for version `v` three ways (typed Encode into a guarded buffer, the Packet
// overload, EncodeToString), checks they agree with EncodedSize, then decodes the bytes
// with DecodeOne. The decoded packet's views point into *wire.
template <typename P>
P RoundTrip(const P& in, V v, std::string* wire, PacketType type) {
  const size_t size = EncodedSize(in, v);
  constexpr size_t kGuard = 16;
  std::string buf(size + kGuard, '\xA5');
  const size_t written = Encode(in, v, reinterpret_cast<uint8_t*>(buf.data()));
  EXPECT_EQ(written, size);
  EXPECT_EQ(buf.substr(size), std::string(kGuard, '\xA5')) << "Encode wrote past its size";
  wire->assign(buf.data(), size);

  const Packet as_variant = in;
  EXPECT_EQ(EncodedSize(as_variant, v), size);
  std::string via_variant(size, '\0');
  EXPECT_EQ(Encode(as_variant, v, reinterpret_cast<uint8_t*>(via_variant.data())), size);
  EXPECT_EQ(via_variant, *wire);
  EXPECT_EQ(EncodeToString(in, v), *wire);

  EXPECT_EQ(static_cast<uint8_t>(wire->at(0)) >> 4, static_cast<int>(type));
  Packet out;
  DecodeStatus s = DecodeOne(v, AsSpan(*wire), &out);
  EXPECT_TRUE(s.ok()) << s.detail << " (reason " << int{static_cast<uint8_t>(s.reason)} << ")";
  EXPECT_EQ(TypeOf(out), type);
  const P* p = std::get_if<P>(&out);
  if (p == nullptr) {
    ADD_FAILURE() << "decoded a different packet type";
    return P{};
  }
  return *p;
}

class RoundTripTest : public testing::TestWithParam<V> {
 protected:
  V version() const { return GetParam(); }
  bool v5() const { return IsV5(GetParam()); }
};

INSTANTIATE_TEST_SUITE_P(AllVersions, RoundTripTest,
                         testing::Values(V::kMqtt31, V::kMqtt311, V::kMqtt5),
                         [](const testing::TestParamInfo<V>& param_info) {
                           switch (param_info.param) {
                             case V::kMqtt31:
                               return std::string("Mqtt31");
                             case V::kMqtt311:
                               return std::string("Mqtt311");
                             case V::kMqtt5:
                               return std::string("Mqtt5");
                           }
                           return std::string("Unknown");
                         });

// ---- CONNECT -------------------------------------------------------------------------------

void ExpectConnectEq(const Connect& got, const Connect& want, V v) {
  EXPECT_EQ(got.version, v);
  EXPECT_EQ(got.clean_start, want.clean_start);
  EXPECT_EQ(got.keep_alive_s, want.keep_alive_s);
  EXPECT_EQ(got.client_id, want.client_id);
  EXPECT_EQ(got.username, want.username);
  EXPECT_EQ(got.password, want.password);
  ExpectPropertiesEq(got.properties, want.properties);
  ASSERT_EQ(got.will.has_value(), want.will.has_value());
  if (want.will) {
    EXPECT_EQ(got.will->topic, want.will->topic);
    EXPECT_EQ(got.will->payload, want.will->payload);
    EXPECT_EQ(got.will->qos, want.will->qos);
    EXPECT_EQ(got.will->retain, want.will->retain);
    ExpectPropertiesEq(got.will->properties, want.will->properties);
  }
}

TEST_P(RoundTripTest, ConnectMinimal) {
  Connect in;
  in.client_id = "client-1";
  in.clean_start = true;
  in.keep_alive_s = 0;
  std::string wire;
  ExpectConnectEq(RoundTrip(in, version(), &wire, PacketType::kConnect), in, version());
}

TEST_P(RoundTripTest, ConnectWithEveryField) {
  PropertyBuilder users;
  users.AddUserProperty("k", "v");
  for (Qos will_qos : {Qos::k0, Qos::k1, Qos::k2}) {
    for (bool will_retain : {false, true}) {
      Connect in;
      in.client_id = "\xC3\xA9l\xC3\xA8ve";  // UTF-8, not ASCII
      in.clean_start = false;
      in.keep_alive_s = 65'535;
      in.username = "user";
      in.password = std::string_view("p\0ss\xFF", 5);  // binary data
      Will& w = in.will.emplace();
      w.topic = "clients/c1/status";
      w.payload = std::string_view("off\0line", 8);
      w.qos = will_qos;
      w.retain = will_retain;
      if (v5()) {
        in.properties.SetSessionExpiryInterval(120);
        in.properties.SetReceiveMaximum(32);
        in.properties.user_properties = users.user_properties();
        w.properties.SetWillDelayInterval(5);
        w.properties.SetContentType("text/plain");
      }
      std::string wire;
      ExpectConnectEq(RoundTrip(in, version(), &wire, PacketType::kConnect), in, version());
    }
  }
}

TEST_P(RoundTripTest, ConnectWithUserNameOnlyAndEmptyStrings) {
  Connect in;
  in.client_id = "";  // a zero-byte Client Identifier is valid on the wire
  in.username = "";
  in.will.emplace();
  in.will->topic = "w";
  in.will->payload = "";
  std::string wire;
  ExpectConnectEq(RoundTrip(in, version(), &wire, PacketType::kConnect), in, version());
}

TEST(RoundTripMqtt5Test, ConnectWithPasswordButNoUserName) {
  // MQTT 5 §3.1.2.9 allows a Password without a User Name (3.x does not).
  Connect in;
  in.client_id = "c";
  in.password = "token";
  std::string wire;
  Connect out = RoundTrip(in, V::kMqtt5, &wire, PacketType::kConnect);
  ExpectConnectEq(out, in, V::kMqtt5);
  EXPECT_FALSE(out.username.has_value());
}

// ---- CONNACK -------------------------------------------------------------------------------

TEST_P(RoundTripTest, Connack) {
  // Reasons every version can express; 3.x carries them as return codes 0..5.
  const ReasonCode kReasons[] = {
      ReasonCode::kSuccess,
      ReasonCode::kUnsupportedProtocolVersion,
      ReasonCode::kClientIdentifierNotValid,
      ReasonCode::kServerUnavailable,
      ReasonCode::kBadUserNameOrPassword,
      ReasonCode::kNotAuthorized,
  };
  for (ReasonCode rc : kReasons) {
    for (bool session_present : {false, true}) {
      if (session_present && IsFailure(rc)) {
        continue;  // [MQTT-3.2.2-6]
      }
      Connack in;
      in.reason = rc;
      in.session_present = session_present;
      std::string wire;
      Connack out = RoundTrip(in, version(), &wire, PacketType::kConnack);
      EXPECT_EQ(out.reason, rc);
      // MQTT 3.1's CONNACK has no Session Present flag (its first byte is reserved).
      EXPECT_EQ(out.session_present, session_present && version() != V::kMqtt31);
      ExpectNoProperties(out.properties);
    }
  }
}

TEST(RoundTripMqtt5Test, ConnackWithEveryReasonAndProperties) {
  for (int code = 0; code < 256; ++code) {
    const auto rc = static_cast<ReasonCode>(code);
    if (!IsValidReasonCode(PacketType::kConnack, rc)) {
      continue;
    }
    Connack in;
    in.reason = rc;
    in.properties.SetReasonString("reason");
    in.properties.SetMaximumQos(1);
    std::string wire;
    Connack out = RoundTrip(in, V::kMqtt5, &wire, PacketType::kConnack);
    EXPECT_EQ(out.reason, rc);
    EXPECT_FALSE(out.session_present);
    ExpectPropertiesEq(out.properties, in.properties);
  }
}

// ---- PUBLISH -------------------------------------------------------------------------------

void ExpectPublishEq(const Publish& got, const Publish& want) {
  EXPECT_EQ(got.topic, want.topic);
  EXPECT_EQ(got.payload, want.payload);
  EXPECT_EQ(got.qos, want.qos);
  EXPECT_EQ(got.retain, want.retain);
  EXPECT_EQ(got.dup, want.dup);
  EXPECT_EQ(got.packet_id, want.packet_id);
  ExpectPropertiesEq(got.properties, want.properties);
}

TEST_P(RoundTripTest, PublishEveryQosAndFlag) {
  for (Qos qos : {Qos::k0, Qos::k1, Qos::k2}) {
    for (bool retain : {false, true}) {
      for (bool dup : {false, true}) {
        if (dup && qos == Qos::k0) {
          continue;  // [MQTT-3.3.1-2]
        }
        Publish in;
        in.topic = "sport/tennis/player1";
        in.payload = std::string_view("\x00\x01\xFFscore", 8);
        in.qos = qos;
        in.retain = retain;
        in.dup = dup;
        in.packet_id = qos == Qos::k0 ? 0 : 0xBEEF;
        std::string wire;
        ExpectPublishEq(RoundTrip(in, version(), &wire, PacketType::kPublish), in);
      }
    }
  }
}

TEST_P(RoundTripTest, PublishEmptyPayloadAndExtremePacketIds) {
  for (uint16_t id : {uint16_t{1}, uint16_t{65'535}}) {
    Publish in;
    in.topic = "a";
    in.qos = Qos::k1;
    in.packet_id = id;
    std::string wire;
    ExpectPublishEq(RoundTrip(in, version(), &wire, PacketType::kPublish), in);
  }
}

// Payload sizes that need a 1-, 2-, 3- and 4-byte Remaining Length.
TEST_P(RoundTripTest, PublishLargePayloads) {
  for (size_t payload_size : {size_t{100}, size_t{200}, size_t{20'000}, size_t{2'100'000}}) {
    const std::string payload(payload_size, 'p');
    Publish in;
    in.topic = "big";
    in.payload = payload;
    in.qos = Qos::k2;
    in.packet_id = 7;
    std::string wire;
    ExpectPublishEq(RoundTrip(in, version(), &wire, PacketType::kPublish), in);
    const size_t remaining = 2 + 3 + 2 + (v5() ? 1 : 0) + payload_size;
    EXPECT_EQ(wire.size(), 1 + VarintSize(static_cast<uint32_t>(remaining)) + remaining);
  }
}

TEST(RoundTripMqtt5Test, PublishWithPropertiesAndTopicAlias) {
  PropertyBuilder b;
  b.AddUserProperty("a", "1").AddSubscriptionIdentifier(12).AddSubscriptionIdentifier(7);
  Publish in;
  in.topic = "";  // the Topic Alias stands for the topic [MQTT-3.3.2-12]
  in.payload = "x";
  in.qos = Qos::k1;
  in.packet_id = 3;
  in.properties.SetTopicAlias(4);
  in.properties.SetMessageExpiryInterval(30);
  in.properties.user_properties = b.user_properties();
  in.properties.subscription_ids = b.subscription_ids();
  std::string wire;
  Publish out = RoundTrip(in, V::kMqtt5, &wire, PacketType::kPublish);
  ExpectPublishEq(out, in);
  EXPECT_EQ(out.properties.topic_alias, 4);
}

// ---- PUBACK, PUBREC, PUBREL, PUBCOMP -------------------------------------------------------

template <typename Ack>
void AckRoundTrips(V v, PacketType type) {
  for (uint16_t id : {uint16_t{1}, uint16_t{0x1234}, uint16_t{65'535}}) {
    Ack in;
    in.packet_id = id;
    std::string wire;
    Ack out = RoundTrip(in, v, &wire, type);
    EXPECT_EQ(out.packet_id, id);
    EXPECT_EQ(out.reason, ReasonCode::kSuccess);
    ExpectNoProperties(out.properties);
  }
  if (!IsV5(v)) {
    return;
  }
  // Every code in the packet's table, without and with properties.
  for (int code = 0; code < 256; ++code) {
    const auto rc = static_cast<ReasonCode>(code);
    if (!IsValidReasonCode(type, rc)) {
      continue;
    }
    for (bool with_props : {false, true}) {
      Ack in;
      in.packet_id = 42;
      in.reason = rc;
      PropertyBuilder b;
      if (with_props) {
        b.AddUserProperty("why", "not");
        in.properties.SetReasonString("text");
        in.properties.user_properties = b.user_properties();
      }
      std::string wire;
      Ack out = RoundTrip(in, v, &wire, type);
      EXPECT_EQ(out.packet_id, 42);
      EXPECT_EQ(out.reason, rc);
      ExpectPropertiesEq(out.properties, in.properties);
    }
  }
}

TEST_P(RoundTripTest, Puback) {
  AckRoundTrips<Puback>(version(), PacketType::kPuback);
}
TEST_P(RoundTripTest, Pubrec) {
  AckRoundTrips<Pubrec>(version(), PacketType::kPubrec);
}
TEST_P(RoundTripTest, Pubrel) {
  AckRoundTrips<Pubrel>(version(), PacketType::kPubrel);
}
TEST_P(RoundTripTest, Pubcomp) {
  AckRoundTrips<Pubcomp>(version(), PacketType::kPubcomp);
}

// ---- SUBSCRIBE / SUBACK / UNSUBSCRIBE / UNSUBACK -------------------------------------------

TEST_P(RoundTripTest, SubscribeManyFilters) {
  Subscribe in;
  in.packet_id = 10;
  // More than the inline capacity of 4, every QoS, and (in 5.0) every option.
  int i = 0;
  for (std::string_view filter :
       {"a/b", "sport/+/player1", "#", "+/+", "$SYS/#", "x/y/z", "\xC3\xA9/#"}) {
    Subscription s;
    s.filter = filter;
    s.options.max_qos = static_cast<Qos>(i % 3);
    if (v5()) {
      s.options.no_local = (i % 2) == 1;
      s.options.retain_as_published = (i % 3) == 1;
      s.options.retain_handling = static_cast<RetainHandling>(i % 3);
    }
    in.subscriptions.push_back(s);
    ++i;
  }
  if (v5()) {
    Subscription shared;
    shared.filter = "$share/group/a/#";
    shared.options.max_qos = Qos::k1;
    shared.options.retain_as_published = true;
    in.subscriptions.push_back(shared);
  }
  std::string wire;
  Subscribe out = RoundTrip(in, version(), &wire, PacketType::kSubscribe);
  EXPECT_EQ(out.packet_id, 10);
  ASSERT_EQ(out.subscriptions.size(), in.subscriptions.size());
  for (size_t k = 0; k < in.subscriptions.size(); ++k) {
    EXPECT_EQ(out.subscriptions[k].filter, in.subscriptions[k].filter) << k;
    EXPECT_EQ(out.subscriptions[k].options, in.subscriptions[k].options) << k;
  }
  ExpectNoProperties(out.properties);
}

TEST_P(RoundTripTest, SubscribeDropsV5OptionsBeforeV5) {
  Subscribe in;
  in.packet_id = 1;
  Subscription s;
  s.filter = "t";
  s.options = {Qos::k2, /*no_local=*/true, /*retain_as_published=*/true,
               RetainHandling::kDoNotSend};
  in.subscriptions.push_back(s);
  std::string wire;
  Subscribe out = RoundTrip(in, version(), &wire, PacketType::kSubscribe);
  ASSERT_EQ(out.subscriptions.size(), 1u);
  SubscriptionOptions want = s.options;
  if (!v5()) {
    want = SubscriptionOptions{};
    want.max_qos = Qos::k2;
  }
  EXPECT_EQ(out.subscriptions[0].options, want);
}

TEST_P(RoundTripTest, Suback) {
  Suback in;
  in.packet_id = 65'535;
  // More than the inline capacity of 8.
  in.reasons = {kGrantedQos0,
                ReasonCode::kGrantedQos1,
                ReasonCode::kGrantedQos2,
                ReasonCode::kUnspecifiedError,
                ReasonCode::kGrantedQos1,
                ReasonCode::kNotAuthorized,
                ReasonCode::kTopicFilterInvalid,
                ReasonCode::kQuotaExceeded,
                ReasonCode::kSharedSubscriptionsNotSupported,
                kGrantedQos0};
  std::string wire;
  Suback out = RoundTrip(in, version(), &wire, PacketType::kSuback);
  EXPECT_EQ(out.packet_id, 65'535);
  ASSERT_EQ(out.reasons.size(), in.reasons.size());
  for (size_t k = 0; k < in.reasons.size(); ++k) {
    // 3.x has a single failure code, 0x80 [MQTT-3.9.3-2 (3.1.1)].
    const ReasonCode want =
        !v5() && IsFailure(in.reasons[k]) ? ReasonCode::kUnspecifiedError : in.reasons[k];
    EXPECT_EQ(out.reasons[k], want) << k;
  }
  ExpectNoProperties(out.properties);
}

TEST_P(RoundTripTest, Unsubscribe) {
  Unsubscribe in;
  in.packet_id = 300;
  for (std::string_view f : {"a/b", "a/+", "#", "$share/g/x", "/", "e/\xC3\xA9"}) {
    in.filters.push_back(f);
  }
  std::string wire;
  Unsubscribe out = RoundTrip(in, version(), &wire, PacketType::kUnsubscribe);
  EXPECT_EQ(out.packet_id, 300);
  ASSERT_EQ(out.filters.size(), in.filters.size());
  for (size_t k = 0; k < in.filters.size(); ++k) {
    EXPECT_EQ(out.filters[k], in.filters[k]);
  }
  ExpectNoProperties(out.properties);
}

TEST_P(RoundTripTest, Unsuback) {
  Unsuback in;
  in.packet_id = 301;
  in.reasons = {ReasonCode::kSuccess,
                ReasonCode::kNoSubscriptionExisted,
                ReasonCode::kNotAuthorized,
                ReasonCode::kTopicFilterInvalid,
                ReasonCode::kPacketIdentifierInUse,
                ReasonCode::kUnspecifiedError,
                ReasonCode::kImplementationSpecificError,
                ReasonCode::kSuccess,
                ReasonCode::kSuccess};
  std::string wire;
  Unsuback out = RoundTrip(in, version(), &wire, PacketType::kUnsuback);
  EXPECT_EQ(out.packet_id, 301);
  if (v5()) {
    ASSERT_EQ(out.reasons.size(), in.reasons.size());
    for (size_t k = 0; k < in.reasons.size(); ++k) {
      EXPECT_EQ(out.reasons[k], in.reasons[k]);
    }
  } else {
    EXPECT_TRUE(out.reasons.empty());  // 3.x UNSUBACK has only the packet id
    EXPECT_EQ(wire.size(), 4u);
  }
  ExpectNoProperties(out.properties);
}

// ---- PINGREQ, PINGRESP, DISCONNECT, AUTH ---------------------------------------------------

TEST_P(RoundTripTest, PingreqAndPingresp) {
  std::string wire;
  RoundTrip(Pingreq{}, version(), &wire, PacketType::kPingreq);
  EXPECT_EQ(wire, std::string("\xC0\x00", 2));
  RoundTrip(Pingresp{}, version(), &wire, PacketType::kPingresp);
  EXPECT_EQ(wire, std::string("\xD0\x00", 2));
}

TEST_P(RoundTripTest, Disconnect) {
  Disconnect in;
  std::string wire;
  Disconnect out = RoundTrip(in, version(), &wire, PacketType::kDisconnect);
  EXPECT_EQ(out.reason, ReasonCode::kSuccess);
  ExpectNoProperties(out.properties);
  if (!v5()) {
    // 3.x DISCONNECT has no body; the reason code is not sent.
    in.reason = ReasonCode::kServerShuttingDown;
    out = RoundTrip(in, version(), &wire, PacketType::kDisconnect);
    EXPECT_EQ(out.reason, ReasonCode::kSuccess);
    EXPECT_EQ(wire.size(), 2u);
    return;
  }
  for (int code = 0; code < 256; ++code) {
    const auto rc = static_cast<ReasonCode>(code);
    if (!IsValidReasonCode(PacketType::kDisconnect, rc)) {
      continue;
    }
    for (bool with_props : {false, true}) {
      Disconnect d;
      d.reason = rc;
      if (with_props) {
        d.properties.SetReasonString("bye");
        d.properties.SetServerReference("other");
      }
      Disconnect d_out = RoundTrip(d, version(), &wire, PacketType::kDisconnect);
      EXPECT_EQ(d_out.reason, rc);
      ExpectPropertiesEq(d_out.properties, d.properties);
    }
  }
}

TEST(RoundTripMqtt5Test, Auth) {
  for (ReasonCode rc :
       {ReasonCode::kSuccess, ReasonCode::kContinueAuthentication, ReasonCode::kReAuthenticate}) {
    for (bool with_props : {false, true}) {
      Auth in;
      in.reason = rc;
      if (with_props) {
        in.properties.SetAuthenticationMethod("SCRAM-SHA-1");
        in.properties.SetAuthenticationData(std::string_view("\0\1\2", 3));
      }
      std::string wire;
      Auth out = RoundTrip(in, V::kMqtt5, &wire, PacketType::kAuth);
      EXPECT_EQ(out.reason, rc);
      ExpectPropertiesEq(out.properties, in.properties);
    }
  }
}

// ---- ParseFixedHeader ----------------------------------------------------------------------

FrameStatus Parse(const Bytes& b, FixedHeader* h, uint32_t max = kMaxPacketSize) {
  return ParseFixedHeader(std::span<const uint8_t>(b.data(), b.size()), max, h);
}

TEST(FixedHeaderTest, ParsesTypeFlagsAndRemainingLength) {
  FixedHeader h;
  ASSERT_EQ(Parse({0x3B, 0x05, 0x00}, &h), FrameStatus::kOk);
  EXPECT_EQ(h.type, PacketType::kPublish);
  EXPECT_EQ(h.flags, 0x0B);
  EXPECT_EQ(h.header_size, 2);
  EXPECT_EQ(h.remaining_length, 5u);
  EXPECT_EQ(h.packet_size(), 7u);

  ASSERT_EQ(Parse({0x62, 0x80, 0x01}, &h), FrameStatus::kOk);
  EXPECT_EQ(h.type, PacketType::kPubrel);
  EXPECT_EQ(h.flags, 0x02);
  EXPECT_EQ(h.header_size, 3);
  EXPECT_EQ(h.remaining_length, 128u);

  ASSERT_EQ(Parse({0xF0, 0xFF, 0xFF, 0xFF, 0x7F}, &h), FrameStatus::kOk);
  EXPECT_EQ(h.type, PacketType::kAuth);
  EXPECT_EQ(h.header_size, 5);
  EXPECT_EQ(h.remaining_length, kMaxRemainingLength);
  EXPECT_EQ(h.packet_size(), kMaxPacketSize);
}

TEST(FixedHeaderTest, EveryPacketTypeNibble) {
  for (int type = 1; type < 16; ++type) {
    FixedHeader h;
    ASSERT_EQ(Parse({static_cast<uint8_t>(type << 4), 0x00}, &h), FrameStatus::kOk);
    EXPECT_EQ(static_cast<int>(h.type), type);
  }
}

TEST(FixedHeaderTest, NeedsMoreUntilTheRemainingLengthEnds) {
  FixedHeader h;
  EXPECT_EQ(Parse({}, &h), FrameStatus::kNeedMore);
  EXPECT_EQ(Parse({0x30}, &h), FrameStatus::kNeedMore);
  EXPECT_EQ(Parse({0x30, 0x80}, &h), FrameStatus::kNeedMore);
  EXPECT_EQ(Parse({0x30, 0x80, 0x80}, &h), FrameStatus::kNeedMore);
  EXPECT_EQ(Parse({0x30, 0x80, 0x80, 0x80}, &h), FrameStatus::kNeedMore);
}

// Packet type 0 is reserved ("Forbidden" in MQTT 5 §2.1.2).
TEST(FixedHeaderTest, ReservedTypeZeroIsMalformed) {
  FixedHeader h;
  EXPECT_EQ(Parse({0x00, 0x00}, &h), FrameStatus::kMalformed);
  EXPECT_EQ(Parse({0x0F, 0x00}, &h), FrameStatus::kMalformed);
  EXPECT_EQ(Parse({0x00}, &h), FrameStatus::kMalformed);  // known from the first byte
}

// [MQTT-1.5.5-1] The Remaining Length is a Variable Byte Integer of at most 4 bytes, in its
// shortest form.
TEST(FixedHeaderTest, BadRemainingLengthIsMalformed_MQTT_1_5_5_1) {
  FixedHeader h;
  EXPECT_EQ(Parse({0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, &h), FrameStatus::kMalformed);
  EXPECT_EQ(Parse({0x30, 0xFF, 0xFF, 0xFF, 0xFF}, &h), FrameStatus::kMalformed);
  EXPECT_EQ(Parse({0xC0, 0x80, 0x00}, &h), FrameStatus::kMalformed);  // 0 in two bytes
  EXPECT_EQ(Parse({0x30, 0x85, 0x80, 0x00}, &h), FrameStatus::kMalformed);
}

// The Maximum Packet Size counts the whole packet, fixed header included (MQTT 5 §3.1.2.11.4),
// and is checked from the header alone.
TEST(FixedHeaderTest, TooLargeCountsTheWholePacket) {
  FixedHeader h;
  EXPECT_EQ(Parse({0x30, 0x08}, &h, 10), FrameStatus::kOk);        // 2 + 8 = 10
  EXPECT_EQ(Parse({0x30, 0x09}, &h, 10), FrameStatus::kTooLarge);  // 2 + 9 = 11
  EXPECT_EQ(h.remaining_length, 9u);
  EXPECT_EQ(Parse({0x30, 0xFF, 0xFF, 0xFF, 0x7F}, &h, 1000), FrameStatus::kTooLarge);
  EXPECT_EQ(Parse({0x30, 0xFF, 0xFF, 0xFF, 0x7F}, &h, kMaxPacketSize), FrameStatus::kOk);
  EXPECT_EQ(Parse({0x30, 0xFF, 0xFF, 0xFF, 0x7F}, &h, kMaxPacketSize - 1), FrameStatus::kTooLarge);
}

// ---- DecodeOne ---------------------------------------------------------------------------

DecodeStatus DecodeBytes(V v, const Bytes& b, Packet* out,
                         uint32_t max_packet_size = kMaxPacketSize) {
  return DecodeOne(v, std::span<const uint8_t>(b.data(), b.size()), out, max_packet_size);
}

TEST(DecodeOneTest, RemainingLengthMustMatchTheInput) {
  Packet p;
  EXPECT_TRUE(DecodeBytes(V::kMqtt311, {0xC0, 0x00}, &p).ok());
  EXPECT_TRUE(std::holds_alternative<Pingreq>(p));
  EXPECT_EQ(DecodeBytes(V::kMqtt311, {0xC0, 0x00, 0x00}, &p).reason,
            ReasonCode::kMalformedPacket);  // a byte after the packet
  EXPECT_EQ(DecodeBytes(V::kMqtt311, {0x40, 0x02, 0x00}, &p).reason,
            ReasonCode::kMalformedPacket);  // shorter than declared
  EXPECT_EQ(DecodeBytes(V::kMqtt311, {0x40}, &p).reason, ReasonCode::kMalformedPacket);
  EXPECT_EQ(DecodeBytes(V::kMqtt311, {}, &p).reason, ReasonCode::kMalformedPacket);
  EXPECT_EQ(DecodeBytes(V::kMqtt311, {0x00, 0x00}, &p).reason, ReasonCode::kMalformedPacket);
}

TEST(DecodeOneTest, TooLargeIsPacketTooLarge) {
  Packet p;
  const Bytes publish = {0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'};
  EXPECT_TRUE(DecodeBytes(V::kMqtt5, {0x30, 0x04, 0x00, 0x01, 't', 0x00}, &p, 6).ok());
  EXPECT_EQ(DecodeBytes(V::kMqtt311, publish, &p, 6).reason, ReasonCode::kPacketTooLarge);
  EXPECT_TRUE(DecodeBytes(V::kMqtt311, publish, &p, 7).ok());
}

TEST(DecodeOneTest, DecodedStringsAreViewsIntoTheInput) {
  const Bytes b = {0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'};
  Packet p;
  ASSERT_TRUE(DecodeBytes(V::kMqtt311, b, &p).ok());
  const Publish* pub = std::get_if<Publish>(&p);
  ASSERT_NE(pub, nullptr);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(pub->topic.data()), b.data() + 4);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(pub->payload.data()), b.data() + 7);
}

TEST(DecodePacketTest, DispatchesOnTheHeaderType) {
  // PINGREQ's body is empty; DecodePacket uses the header it is given.
  FixedHeader h;
  h.type = PacketType::kPingresp;
  h.header_size = 2;
  Packet p;
  ASSERT_TRUE(DecodePacket(V::kMqtt5, h, {}, &p).ok());
  EXPECT_TRUE(std::holds_alternative<Pingresp>(p));
  h.type = PacketType::kReserved;
  EXPECT_EQ(DecodePacket(V::kMqtt5, h, {}, &p).reason, ReasonCode::kMalformedPacket);
}

TEST(DecodePacketTest, ConnectIgnoresTheGivenVersion) {
  // 3.1.1 CONNECT bytes decoded on a connection whose version is still "5": the packet's own
  // level wins.
  const Bytes b = {0x10, 0x0D, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                   0x04, 0x02, 0x00, 0x00, 0x00, 0x01, 'c'};
  Packet p;
  ASSERT_TRUE(DecodeBytes(V::kMqtt5, b, &p).ok());
  const Connect* c = std::get_if<Connect>(&p);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->version, V::kMqtt311);
}

template <typename P>
PacketType TypeOfDefault() {
  // Built in place: moving an empty absl::InlinedVector trips a GCC 12 -Wuninitialized.
  const Packet p(std::in_place_type<P>);
  return TypeOf(p);
}

TEST(TypeOfTest, MatchesEveryAlternative) {
  EXPECT_EQ(TypeOfDefault<Connect>(), PacketType::kConnect);
  EXPECT_EQ(TypeOfDefault<Connack>(), PacketType::kConnack);
  EXPECT_EQ(TypeOfDefault<Publish>(), PacketType::kPublish);
  EXPECT_EQ(TypeOfDefault<Puback>(), PacketType::kPuback);
  EXPECT_EQ(TypeOfDefault<Pubrec>(), PacketType::kPubrec);
  EXPECT_EQ(TypeOfDefault<Pubrel>(), PacketType::kPubrel);
  EXPECT_EQ(TypeOfDefault<Pubcomp>(), PacketType::kPubcomp);
  EXPECT_EQ(TypeOfDefault<Subscribe>(), PacketType::kSubscribe);
  EXPECT_EQ(TypeOfDefault<Suback>(), PacketType::kSuback);
  EXPECT_EQ(TypeOfDefault<Unsubscribe>(), PacketType::kUnsubscribe);
  EXPECT_EQ(TypeOfDefault<Unsuback>(), PacketType::kUnsuback);
  EXPECT_EQ(TypeOfDefault<Pingreq>(), PacketType::kPingreq);
  EXPECT_EQ(TypeOfDefault<Pingresp>(), PacketType::kPingresp);
  EXPECT_EQ(TypeOfDefault<Disconnect>(), PacketType::kDisconnect);
  EXPECT_EQ(TypeOfDefault<Auth>(), PacketType::kAuth);
}

TEST(NamesTest, VersionAndPacketTypeNames) {
  EXPECT_EQ(ProtocolVersionName(V::kMqtt31), "3.1");
  EXPECT_EQ(ProtocolVersionName(V::kMqtt311), "3.1.1");
  EXPECT_EQ(ProtocolVersionName(V::kMqtt5), "5.0");
  EXPECT_EQ(PacketTypeName(PacketType::kConnect), "CONNECT");
  EXPECT_EQ(PacketTypeName(PacketType::kUnsubscribe), "UNSUBSCRIBE");
  EXPECT_EQ(PacketTypeName(PacketType::kAuth), "AUTH");
  EXPECT_EQ(PacketTypeName(PacketType::kReserved), "RESERVED");
}

}  // namespace
}  // namespace ringmq::mqtt
