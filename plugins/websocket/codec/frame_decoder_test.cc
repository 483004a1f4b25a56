#include "plugins/websocket/codec/frame_decoder.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/websocket/codec/frame_encoder.h"

namespace ringmq::websocket {
namespace {

constexpr uint8_t kFin = 0x80;
constexpr MaskKey kKey = {0x37, 0xFA, 0x21, 0x3D};

// A client frame built by hand (not by frame_encoder, which has its own tests): first byte
// `b0` (FIN, RSV, opcode) as given, the shortest length, MASK set, the payload masked bytewise.
std::string ClientFrame(uint8_t b0, std::string_view payload, const MaskKey& key = kKey) {
  std::string f(1, static_cast<char>(b0));
  const size_t n = payload.size();
  if (n <= 125) {
    f += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xFF);
  } else {
    f += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      f += static_cast<char>((static_cast<uint64_t>(n) >> shift) & 0xFF);
    }
  }
  f.append(reinterpret_cast<const char*>(key.data()), key.size());
  for (size_t i = 0; i < n; ++i) {
    f += static_cast<char>(payload[i] ^ key[i % 4]);
  }
  return f;
}

// The same without MASK (what a server sends).
std::string ServerFrame(uint8_t b0, std::string_view payload) {
  std::string f = ClientFrame(b0, payload);
  f[1] = static_cast<char>(f[1] & 0x7F);
  const size_t key_at = f.size() - payload.size() - 4;
  f.erase(key_at, 4);
  f.replace(key_at, payload.size(), payload);
  return f;
}

std::string Binary(std::string_view payload) {
  return ClientFrame(kFin | 0x2, payload);
}
std::string ClosePayload(uint16_t code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p += reason;
  return p;
}

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Records events as text: "ping:PAYLOAD", "pong:PAYLOAD", "close:CODE:REASON".
class Recorder : public FrameEvents {
 public:
  void OnPing(std::span<const uint8_t> payload) override {
    log.push_back("ping:" + std::string(payload.begin(), payload.end()));
  }
  void OnPong(std::span<const uint8_t> payload) override {
    log.push_back("pong:" + std::string(payload.begin(), payload.end()));
  }
  void OnClose(CloseCode code, std::string_view reason) override {
    log.push_back("close:" + std::to_string(static_cast<int>(code)) + ":" + std::string(reason));
  }
  std::vector<std::string> log;
};

struct Decoded {
  DecodeResult result;
  std::string app;
  std::vector<std::string> events;
};

// Feeds `wire` in pieces of `piece` bytes (0: all at once); stops at the first error.
Decoded Decode(std::string_view wire, Role role = Role::kServer, DecoderLimits limits = {},
               size_t piece = 0) {
  FrameDecoder d(role, limits);
  Decoded out;
  Recorder rec;
  if (piece == 0) {
    piece = wire.size() + 1;
  }
  for (size_t at = 0; at < wire.size() && out.result.ok(); at += piece) {
    out.result = d.Feed(Bytes(wire.substr(at, piece)), &out.app, &rec);
  }
  out.events = rec.log;
  return out;
}

uint16_t Code(const Decoded& d) {
  return static_cast<uint16_t>(d.result.close_code);
}

// An MQTT CONNECT (3.1.1, client id "ws") and a PINGREQ.
constexpr std::string_view kConnect("\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02ws", 16);
constexpr std::string_view kPingReq("\xc0\x00", 2);

TEST(FrameDecoderTest, OneFrameOneMqttPacket) {
  const Decoded d = Decode(Binary(kConnect));
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, kConnect);
  EXPECT_TRUE(d.events.empty());
}

TEST(FrameDecoderTest, MqttPacketSpanningTwoFrames) {
  const std::string wire = ClientFrame(0x2, kConnect.substr(0, 5)) +  // FIN clear
                           ClientFrame(kFin | 0x0, kConnect.substr(5));
  const Decoded d = Decode(wire);
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, kConnect);
}

TEST(FrameDecoderTest, TwoMqttPacketsInOneFrame) {
  const Decoded d = Decode(Binary(std::string(kConnect) + std::string(kPingReq)));
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, std::string(kConnect) + std::string(kPingReq));
}

TEST(FrameDecoderTest, PayloadHandedOnBeforeTheFrameEnds) {
  // The MQTT layer gets bytes as they arrive, not when the frame or message is complete.
  const std::string wire = ClientFrame(0x2, kConnect);
  FrameDecoder d(Role::kServer);
  std::string app;
  ASSERT_TRUE(d.Feed(Bytes(wire.substr(0, 6 + 3)), &app, nullptr).ok());
  EXPECT_EQ(app, kConnect.substr(0, 3));
  ASSERT_TRUE(d.Feed(Bytes(wire.substr(9)), &app, nullptr).ok());
  EXPECT_EQ(app, kConnect);
  EXPECT_TRUE(d.in_message());  // FIN was clear
}

// A stream using every kind of frame, each header size and a payload whose mask position
// carries across pieces.
std::string MixedStream() {
  std::string big(300, '\0');
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7 + 1);
  }
  return ClientFrame(0x2, kConnect.substr(0, 7)) + ClientFrame(kFin | 0x9, "hb") +
         ClientFrame(0x0, kConnect.substr(7, 4)) + ClientFrame(kFin | 0xA, "") +
         ClientFrame(kFin | 0x0, kConnect.substr(11)) + Binary(big) + Binary("") +
         Binary(kPingReq) + ClientFrame(kFin | 0x8, ClosePayload(1000, "bye"));
}

TEST(FrameDecoderTest, EverySplitEqualsFeedingAtOnce) {
  const std::string wire = MixedStream();
  const Decoded whole = Decode(wire);
  ASSERT_TRUE(whole.result.ok());
  EXPECT_EQ(whole.app.size(), kConnect.size() + 300 + kPingReq.size());
  EXPECT_EQ(whole.events, (std::vector<std::string>{"ping:hb", "pong:", "close:1000:bye"}));
  for (size_t split = 0; split <= wire.size(); ++split) {
    FrameDecoder d(Role::kServer);
    Recorder rec;
    std::string app;
    ASSERT_TRUE(d.Feed(Bytes(wire).first(split), &app, &rec).ok()) << split;
    ASSERT_TRUE(d.Feed(Bytes(wire).subspan(split), &app, &rec).ok()) << split;
    EXPECT_EQ(app, whole.app) << "split at " << split;
    EXPECT_EQ(rec.log, whole.events) << "split at " << split;
  }
}

TEST(FrameDecoderTest, OneByteAtATimeEqualsFeedingAtOnce) {
  const std::string wire = MixedStream();
  const Decoded whole = Decode(wire);
  for (size_t piece : {1, 2, 3, 5, 13, 14, 15}) {
    const Decoded d = Decode(wire, Role::kServer, {}, piece);
    EXPECT_TRUE(d.result.ok()) << piece;
    EXPECT_EQ(d.app, whole.app) << piece;
    EXPECT_EQ(d.events, whole.events) << piece;
  }
}

TEST(FrameDecoderTest, LengthEncodings) {
  for (size_t n : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    const std::string payload(n, 'x');
    const Decoded d = Decode(Binary(payload));
    EXPECT_TRUE(d.result.ok()) << n;
    EXPECT_EQ(d.app, payload) << n;
  }
}

TEST(FrameDecoderTest, NonMinimalLengthsAreAccepted) {
  // RFC 6455 5.2 asks senders for the shortest form; we do not fail peers over it.
  std::string wire = "\x82\xFE";
  wire += std::string("\x00\x03", 2);
  wire.append(reinterpret_cast<const char*>(kKey.data()), 4);
  for (size_t i = 0; i < 3; ++i) {
    wire += static_cast<char>("abc"[i] ^ kKey[i]);
  }
  std::string wire64 = "\x82\xFF";
  wire64 += std::string("\x00\x00\x00\x00\x00\x00\x00\x03", 8);
  wire64 += wire.substr(4);
  EXPECT_EQ(Decode(wire).app, "abc");
  EXPECT_EQ(Decode(wire64).app, "abc");
}

TEST(FrameDecoderTest, SixtyFourBitLengthWithTopBitSetIs1002) {
  std::string wire = "\x82\xFF";
  wire += std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8);
  wire.append(reinterpret_cast<const char*>(kKey.data()), 4);
  const Decoded d = Decode(wire);
  EXPECT_EQ(Code(d), 1002);
  EXPECT_FALSE(d.result.detail.empty());
}

TEST(FrameDecoderTest, UnmaskedClientFrameIs1002) {
  EXPECT_EQ(Code(Decode(ServerFrame(kFin | 0x2, "abc"))), 1002);
  EXPECT_EQ(Code(Decode(ServerFrame(kFin | 0x9, ""))), 1002);
}

TEST(FrameDecoderTest, ClientRoleReadsUnmaskedFramesAndRefusesMaskedOnes) {
  const Decoded d =
      Decode(ServerFrame(kFin | 0x2, "abc") + ServerFrame(kFin | 0x9, "p"), Role::kClient);
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, "abc");
  EXPECT_EQ(d.events, std::vector<std::string>{"ping:p"});
  EXPECT_EQ(Code(Decode(Binary("abc"), Role::kClient)), 1002);
}

TEST(FrameDecoderTest, RsvBitsAre1002) {
  for (uint8_t rsv : {0x40, 0x20, 0x10, 0x70}) {
    EXPECT_EQ(Code(Decode(ClientFrame(kFin | rsv | 0x2, "a"))), 1002) << int{rsv};
    EXPECT_EQ(Code(Decode(ClientFrame(kFin | rsv | 0x9, ""))), 1002) << int{rsv};
  }
}

TEST(FrameDecoderTest, UnknownOpcodesAre1002) {
  for (uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    EXPECT_EQ(Code(Decode(ClientFrame(kFin | op, ""))), 1002) << int{op};
  }
}

TEST(FrameDecoderTest, TextFrameIs1003) {
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x1, "hello"))), 1003);
  EXPECT_EQ(Code(Decode(ClientFrame(0x1, "hel"))), 1003);
}

TEST(FrameDecoderTest, ControlFrameRules) {
  EXPECT_EQ(Code(Decode(ClientFrame(0x9, "x"))), 1002);  // no FIN
  EXPECT_EQ(Code(Decode(ClientFrame(0x8, ""))), 1002);
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x9, std::string(126, 'p')))), 1002);
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0xA, std::string(126, 'p')))), 1002);
  const Decoded max = Decode(ClientFrame(kFin | 0x9, std::string(125, 'p')));
  EXPECT_TRUE(max.result.ok());
  EXPECT_EQ(max.events, std::vector<std::string>{"ping:" + std::string(125, 'p')});
}

TEST(FrameDecoderTest, ControlFramesBetweenFragments) {
  const std::string wire = ClientFrame(0x2, "ab") + ClientFrame(kFin | 0x9, "1") +
                           ClientFrame(0x0, "cd") + ClientFrame(kFin | 0xA, "2") +
                           ClientFrame(kFin | 0x0, "ef");
  const Decoded d = Decode(wire);
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, "abcdef");
  EXPECT_EQ(d.events, (std::vector<std::string>{"ping:1", "pong:2"}));
}

TEST(FrameDecoderTest, CloseBetweenFragmentsEndsTheStream) {
  const Decoded d = Decode(ClientFrame(0x2, "ab") + ClientFrame(kFin | 0x8, ClosePayload(1001)));
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, "ab");
  EXPECT_EQ(d.events, std::vector<std::string>{"close:1001:"});
}

TEST(FrameDecoderTest, FragmentationErrors) {
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x0, "a"))), 1002);  // continuation first
  EXPECT_EQ(Code(Decode(ClientFrame(0x0, "a"))), 1002);
  EXPECT_EQ(Code(Decode(Binary("a") + ClientFrame(kFin | 0x0, "b"))), 1002);  // after FIN
  EXPECT_EQ(Code(Decode(ClientFrame(0x2, "a") + Binary("b"))), 1002);         // new message inside
  EXPECT_EQ(Code(Decode(ClientFrame(0x2, "a") + ClientFrame(0x2, "b"))), 1002);
}

TEST(FrameDecoderTest, EmptyFramesAreFine) {
  const Decoded d = Decode(ClientFrame(0x2, "") + ClientFrame(0x0, "") +
                           ClientFrame(kFin | 0x0, "") + Binary(""));
  EXPECT_TRUE(d.result.ok());
  EXPECT_TRUE(d.app.empty());
}

TEST(FrameDecoderTest, InMessageFollowsFin) {
  FrameDecoder d(Role::kServer);
  std::string app;
  EXPECT_FALSE(d.in_message());
  ASSERT_TRUE(d.Feed(Bytes(ClientFrame(0x2, "a")), &app, nullptr).ok());
  EXPECT_TRUE(d.in_message());
  ASSERT_TRUE(d.Feed(Bytes(ClientFrame(kFin | 0x9, "")), &app, nullptr).ok());
  EXPECT_TRUE(d.in_message());
  ASSERT_TRUE(d.Feed(Bytes(ClientFrame(kFin | 0x0, "b")), &app, nullptr).ok());
  EXPECT_FALSE(d.in_message());
}

TEST(FrameDecoderTest, ValidCloseCodes) {
  for (uint16_t code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    const Decoded d = Decode(ClientFrame(kFin | 0x8, ClosePayload(code, "r")));
    EXPECT_TRUE(d.result.ok()) << code;
    EXPECT_EQ(d.events, std::vector<std::string>{"close:" + std::to_string(code) + ":r"});
  }
}

TEST(FrameDecoderTest, InvalidCloseCodesAre1002) {
  for (uint16_t code :
       {0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    const Decoded d = Decode(ClientFrame(kFin | 0x8, ClosePayload(code)));
    EXPECT_EQ(Code(d), 1002) << code;
    EXPECT_TRUE(d.events.empty()) << code;
  }
}

TEST(FrameDecoderTest, ClosePayloadRules) {
  const Decoded empty = Decode(ClientFrame(kFin | 0x8, ""));
  EXPECT_TRUE(empty.result.ok());
  EXPECT_EQ(empty.events, std::vector<std::string>{"close:1005:"});  // kNoStatus
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x8, "\x03"))), 1002);    // 1 byte
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x8, ClosePayload(1000, "\xC0\x80")))), 1007);
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x8, ClosePayload(1000, "\xED\xA0\x80")))), 1007);
  EXPECT_EQ(Code(Decode(ClientFrame(kFin | 0x8, ClosePayload(1000, "\xE2\x82")))), 1007);
  const Decoded utf8 =
      Decode(ClientFrame(kFin | 0x8, ClosePayload(1000, "\xE2\x82\xAC\xF0\x9F\x98\x80")));
  EXPECT_TRUE(utf8.result.ok());
}

TEST(FrameDecoderTest, InputAfterCloseIsIgnored) {
  FrameDecoder d(Role::kServer);
  Recorder rec;
  std::string app;
  const std::string wire = ClientFrame(kFin | 0x8, ClosePayload(1000)) + Binary("late");
  ASSERT_TRUE(d.Feed(Bytes(wire), &app, &rec).ok());
  EXPECT_TRUE(d.close_received());
  EXPECT_TRUE(d.Feed(Bytes("\xFF\xFF garbage"), &app, &rec).ok());
  EXPECT_TRUE(app.empty());
  EXPECT_EQ(rec.log, std::vector<std::string>{"close:1000:"});
}

TEST(FrameDecoderTest, ErrorIsFinal) {
  FrameDecoder d(Role::kServer);
  std::string app;
  const DecodeResult first = d.Feed(Bytes(ClientFrame(kFin | 0x1, "t")), &app, nullptr);
  EXPECT_EQ(first.close_code, CloseCode::kUnsupportedData);
  const DecodeResult again = d.Feed(Bytes(Binary("fine")), &app, nullptr);
  EXPECT_EQ(again.close_code, CloseCode::kUnsupportedData);
  EXPECT_EQ(again.detail, first.detail);
  EXPECT_EQ(d.Feed({}, &app, nullptr).close_code, CloseCode::kUnsupportedData);
  EXPECT_TRUE(app.empty());
}

TEST(FrameDecoderTest, BytesBeforeAnErrorAreHandedOn) {
  const Decoded d = Decode(Binary("ok") + ClientFrame(kFin | 0x3, ""));
  EXPECT_EQ(Code(d), 1002);
  EXPECT_EQ(d.app, "ok");
}

TEST(FrameDecoderTest, FrameLimitIs1009BeforeThePayloadArrives) {
  DecoderLimits limits;
  limits.frame_payload_bytes_max = 100;
  EXPECT_TRUE(Decode(Binary(std::string(100, 'a')), Role::kServer, limits).result.ok());
  // Only the header of a too-large frame: refused at once.
  const std::string header = Binary(std::string(101, 'a')).substr(0, 6);
  const Decoded d = Decode(header, Role::kServer, limits);
  EXPECT_EQ(Code(d), 1009);
  // The default is 1 MiB.
  std::string huge_header = "\x82\xFF";
  huge_header += std::string("\x00\x00\x00\x00\x00\x10\x00\x01", 8);
  huge_header.append(reinterpret_cast<const char*>(kKey.data()), 4);
  EXPECT_EQ(Code(Decode(huge_header)), 1009);
}

TEST(FrameDecoderTest, MessageLimitIs1009AcrossFragments) {
  DecoderLimits limits;
  limits.message_bytes_max = 10;
  const std::string first = ClientFrame(0x2, std::string(6, 'a'));
  EXPECT_TRUE(Decode(first + ClientFrame(kFin | 0x0, std::string(4, 'b')), Role::kServer, limits)
                  .result.ok());
  const Decoded over =
      Decode(first + ClientFrame(kFin | 0x0, std::string(5, 'b')), Role::kServer, limits);
  EXPECT_EQ(Code(over), 1009);
  EXPECT_EQ(over.app, std::string(6, 'a'));
  // The count starts again with each message, and control frames do not count.
  const std::string two_messages = Binary(std::string(10, 'a')) +
                                   ClientFrame(kFin | 0x9, std::string(50, 'p')) +
                                   Binary(std::string(10, 'b'));
  EXPECT_TRUE(Decode(two_messages, Role::kServer, limits).result.ok());
}

TEST(FrameDecoderTest, ServerEncoderToClientDecoder) {
  std::string wire;
  const std::string payload(70000, 'z');
  AppendBinaryHeader(payload.size(), &wire);
  wire += payload;
  ASSERT_TRUE(AppendControl(Opcode::kPing, Bytes("hi"), &wire));
  AppendClose(CloseCode::kGoingAway, "restart", &wire);
  const Decoded d = Decode(wire, Role::kClient);
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, payload);
  EXPECT_EQ(d.events, (std::vector<std::string>{"ping:hi", "close:1001:restart"}));
}

TEST(FrameDecoderTest, ClientEncoderToServerDecoder) {
  std::string wire;
  const MaskKey key = {0xDE, 0xAD, 0xBE, 0xEF};
  AppendMaskedFrame(Opcode::kBinary, Fin::kMore, Bytes(kConnect.substr(0, 9)), key, &wire);
  AppendMaskedFrame(Opcode::kPing, Fin::kFinal, Bytes("x"), key, &wire);
  AppendMaskedFrame(Opcode::kContinuation, Fin::kFinal, Bytes(kConnect.substr(9)), key, &wire);
  AppendMaskedClose(CloseCode::kNormal, "done", key, &wire);
  const Decoded d = Decode(wire, Role::kServer, {}, 3);
  EXPECT_TRUE(d.result.ok());
  EXPECT_EQ(d.app, kConnect);
  EXPECT_EQ(d.events, (std::vector<std::string>{"ping:x", "close:1000:done"}));
}

}  // namespace
}  // namespace ringmq::websocket
