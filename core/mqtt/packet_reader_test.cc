// PacketReader: framing a byte stream that arrives in reads of any size into packets, with
// zero copy for packets inside one read and memory that follows the bytes actually received.

#include "core/mqtt/packet_reader.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

namespace ringmq::mqtt {
namespace {

using Bytes = std::vector<uint8_t>;

// A packet on the wire: the first byte, the Remaining Length (encoded here by the rule of
// MQTT 5 §1.5.5, independently of the codec) and the body.
Bytes Frame(uint8_t first, const Bytes& body) {
  Bytes out = {first};
  size_t n = body.size();
  do {
    uint8_t b = n % 128;
    n /= 128;
    if (n > 0) {
      b |= 0x80;
    }
    out.push_back(b);
  } while (n > 0);
  for (uint8_t b : body) {
    out.push_back(b);
  }
  return out;
}

Bytes Publish(size_t payload_size) {
  // Topic "t" (00 01 't') and the payload. Built byte by byte: GCC 12 at -O3 sees false
  // -Warray-bounds / -Wnull-dereference in the shorter forms.
  Bytes body = {0x00, 0x01, 't'};
  for (size_t i = 0; i < payload_size; ++i) {
    body.push_back('x');
  }
  return Frame(0x30, body);
}

const Bytes kPingreq = {0xC0, 0x00};
const Bytes kPuback = {0x40, 0x02, 0x12, 0x34};
const Bytes kSubscribe = {0x82, 0x08, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x01};

Bytes Concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    for (uint8_t b : p) {
      out.push_back(b);
    }
  }
  return out;
}

struct Delivered {
  PacketType type;
  uint8_t flags;
  uint32_t remaining_length;
  Bytes body;
  const uint8_t* body_ptr;
};

// A sink that records every packet and optionally stops after the n-th one.
class Recorder {
 public:
  explicit Recorder(size_t stop_after = SIZE_MAX) : stop_after_(stop_after) {}

  SinkAction operator()(const FixedHeader& h, std::span<const uint8_t> body) {
    EXPECT_EQ(body.size(), h.remaining_length);
    packets_.push_back(
        {h.type, h.flags, h.remaining_length, Bytes(body.begin(), body.end()), body.data()});
    return packets_.size() >= stop_after_ ? SinkAction::kStop : SinkAction::kContinue;
  }

  const std::vector<Delivered>& packets() const { return packets_; }

 private:
  size_t stop_after_;
  std::vector<Delivered> packets_;
};

// The packets of a stream as (first byte, body), from the stream itself.
std::vector<std::pair<uint8_t, Bytes>> Expected(std::initializer_list<Bytes> packets) {
  std::vector<std::pair<uint8_t, Bytes>> out;
  for (const Bytes& p : packets) {
    size_t i = 1;
    while (p[i] & 0x80) {
      ++i;
    }
    out.emplace_back(p[0], Bytes(p.begin() + static_cast<long>(i) + 1, p.end()));
  }
  return out;
}

void ExpectDelivered(const Recorder& r, const std::vector<std::pair<uint8_t, Bytes>>& want) {
  ASSERT_EQ(r.packets().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const Delivered& d = r.packets()[i];
    EXPECT_EQ(static_cast<uint8_t>((static_cast<uint8_t>(d.type) << 4) | d.flags), want[i].first)
        << "packet " << i;
    EXPECT_EQ(d.body, want[i].second) << "packet " << i;
  }
}

std::span<const uint8_t> Span(const Bytes& b, size_t from = 0, size_t len = SIZE_MAX) {
  const size_t n = std::min(len, b.size() - from);
  return {b.data() + from, n};
}

TEST(PacketReaderTest, EmptyReadDoesNothing) {
  PacketReader reader;
  Recorder r;
  ReadResult res = reader.Read({}, r);
  EXPECT_EQ(res.status, ReadStatus::kOk);
  EXPECT_EQ(res.consumed, 0u);
  EXPECT_TRUE(r.packets().empty());
  EXPECT_EQ(reader.capacity(), 0u);
}

TEST(PacketReaderTest, ManyPacketsInOneRead) {
  const Bytes big = Publish(300);  // two-byte Remaining Length
  const Bytes stream = Concat({kPingreq, kPuback, big, kSubscribe, kPingreq});
  PacketReader reader;
  Recorder r;
  ReadResult res = reader.Read(Span(stream), r);
  EXPECT_EQ(res.status, ReadStatus::kOk);
  EXPECT_EQ(res.consumed, stream.size());
  ExpectDelivered(r, Expected({kPingreq, kPuback, big, kSubscribe, kPingreq}));
  EXPECT_TRUE(reader.buffered().empty());
  EXPECT_EQ(reader.capacity(), 0u);  // nothing was copied
}

// Packets wholly inside one read are handed over in place: the body span points into the
// caller's buffer.
TEST(PacketReaderTest, ZeroCopyForPacketsInsideOneRead) {
  const Bytes big = Publish(300);
  const Bytes stream = Concat({kPuback, big, kSubscribe});
  PacketReader reader;
  Recorder r;
  ASSERT_EQ(reader.Read(Span(stream), r).status, ReadStatus::kOk);
  ASSERT_EQ(r.packets().size(), 3u);
  EXPECT_EQ(r.packets()[0].body_ptr, stream.data() + 2);
  EXPECT_EQ(r.packets()[1].body_ptr, stream.data() + kPuback.size() + 3);
  EXPECT_EQ(r.packets()[2].body_ptr, stream.data() + kPuback.size() + big.size() + 2);
}

// A packet that spans reads is assembled in the reader's buffer; the packets after it in the
// same read are still handed over in place.
TEST(PacketReaderTest, SpanningPacketIsCopiedOthersAreNot) {
  const Bytes stream = Concat({kSubscribe, kPuback});
  PacketReader reader;
  Recorder r;
  const Bytes first(stream.begin(), stream.begin() + 5);
  const Bytes second(stream.begin() + 5, stream.end());
  ASSERT_EQ(reader.Read(Span(first), r).status, ReadStatus::kOk);
  EXPECT_TRUE(r.packets().empty());
  ASSERT_EQ(reader.Read(Span(second), r).status, ReadStatus::kOk);
  ASSERT_EQ(r.packets().size(), 2u);
  const uint8_t* p0 = r.packets()[0].body_ptr;
  const bool in_first = p0 >= first.data() && p0 < first.data() + first.size();
  const bool in_second = p0 >= second.data() && p0 < second.data() + second.size();
  EXPECT_FALSE(in_first || in_second);
  EXPECT_EQ(r.packets()[1].body_ptr, second.data() + (kSubscribe.size() - 5) + 2);
  EXPECT_EQ(reader.capacity(), 0u);  // released once the packet was delivered
}

// One stream split at every possible point into two reads delivers the same packets.
TEST(PacketReaderTest, SplitAtEveryPoint) {
  const Bytes big = Publish(300);
  const std::initializer_list<Bytes> packets = {kPingreq, kSubscribe, big, kPuback};
  const Bytes stream = Concat(packets);
  const auto want = Expected(packets);
  for (size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(testing::Message() << "split at " << split);
    PacketReader reader;
    Recorder r;
    ReadResult a = reader.Read(Span(stream, 0, split), r);
    ASSERT_EQ(a.status, ReadStatus::kOk);
    ASSERT_EQ(a.consumed, split);
    ReadResult b = reader.Read(Span(stream, split), r);
    ASSERT_EQ(b.status, ReadStatus::kOk);
    ASSERT_EQ(b.consumed, stream.size() - split);
    ExpectDelivered(r, want);
    EXPECT_TRUE(reader.buffered().empty());
    EXPECT_EQ(reader.capacity(), 0u);
  }
}

// Three reads, split at every pair of points, over a short stream.
TEST(PacketReaderTest, SplitAtEveryPairOfPoints) {
  const std::initializer_list<Bytes> packets = {kPuback, kSubscribe, kPingreq};
  const Bytes stream = Concat(packets);
  const auto want = Expected(packets);
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); ++j) {
      PacketReader reader;
      Recorder r;
      ASSERT_EQ(reader.Read(Span(stream, 0, i), r).status, ReadStatus::kOk);
      ASSERT_EQ(reader.Read(Span(stream, i, j - i), r).status, ReadStatus::kOk);
      ASSERT_EQ(reader.Read(Span(stream, j), r).status, ReadStatus::kOk);
      ExpectDelivered(r, want);
      ASSERT_TRUE(reader.buffered().empty()) << i << " " << j;
    }
  }
}

TEST(PacketReaderTest, ByteByByte) {
  const Bytes big = Publish(300);
  const std::initializer_list<Bytes> packets = {kPingreq, big, kSubscribe, kPuback};
  const Bytes stream = Concat(packets);
  PacketReader reader;
  Recorder r;
  size_t delivered = 0;
  for (size_t i = 0; i < stream.size(); ++i) {
    ReadResult res = reader.Read(Span(stream, i, 1), r);
    ASSERT_EQ(res.status, ReadStatus::kOk) << i;
    ASSERT_EQ(res.consumed, 1u) << i;
    if (r.packets().size() > delivered) {
      // A packet just completed: nothing is held any more.
      delivered = r.packets().size();
      EXPECT_TRUE(reader.buffered().empty()) << i;
      EXPECT_EQ(reader.capacity(), 0u) << i;
    } else {
      EXPECT_FALSE(reader.buffered().empty()) << i;
      EXPECT_GE(reader.capacity(), reader.buffered().size());
    }
  }
  ExpectDelivered(r, Expected(packets));
}

// A fixed header may itself arrive in pieces; buffered() shows exactly what is held.
TEST(PacketReaderTest, PartialFixedHeader) {
  const Bytes big = Publish(300);  // 30 AF 02 ...
  ASSERT_EQ(big[1], 0xAF);
  ASSERT_EQ(big[2], 0x02);
  PacketReader reader;
  Recorder r;
  EXPECT_EQ(reader.Read(Span(big, 0, 1), r).consumed, 1u);
  EXPECT_EQ(Bytes(reader.buffered().begin(), reader.buffered().end()), Bytes({0x30}));
  EXPECT_EQ(reader.Read(Span(big, 1, 1), r).consumed, 1u);
  EXPECT_EQ(Bytes(reader.buffered().begin(), reader.buffered().end()), Bytes({0x30, 0xAF}));
  EXPECT_LE(reader.capacity(), 64u);
  // The rest of the header and 10 body bytes.
  EXPECT_EQ(reader.Read(Span(big, 2, 11), r).consumed, 11u);
  EXPECT_EQ(reader.buffered().size(), 13u);
  EXPECT_TRUE(std::equal(reader.buffered().begin(), reader.buffered().end(), big.begin()));
  EXPECT_TRUE(r.packets().empty());
  EXPECT_EQ(reader.Read(Span(big, 13), r).consumed, big.size() - 13);
  ExpectDelivered(r, Expected({big}));
  EXPECT_TRUE(reader.buffered().empty());
}

// A packet with Remaining Length 0 whose two header bytes arrive separately.
TEST(PacketReaderTest, EmptyBodyPacketSplitInItsHeader) {
  PacketReader reader;
  Recorder r;
  ASSERT_EQ(reader.Read(Span(kPingreq, 0, 1), r).status, ReadStatus::kOk);
  EXPECT_TRUE(r.packets().empty());
  ASSERT_EQ(reader.Read(Span(kPingreq, 1, 1), r).status, ReadStatus::kOk);
  ASSERT_EQ(r.packets().size(), 1u);
  EXPECT_EQ(r.packets()[0].type, PacketType::kPingreq);
  EXPECT_TRUE(r.packets()[0].body.empty());
}

// A packet above the maximum is refused from its fixed header alone, before any of its body
// is buffered (a client must not exceed the server's Maximum Packet Size [MQTT-3.2.2-15];
// the server answers Packet too large, 0x95).
TEST(PacketReaderTest, TooLargeRejectedFromTheHeaderAlone) {
  // Remaining Length 1000 (E8 07): 1003 bytes in all, over a maximum of 1000.
  const Bytes header = {0x30, 0xE8, 0x07};
  {
    PacketReader reader(1000);
    Recorder r;
    ReadResult res = reader.Read(Span(header), r);
    EXPECT_EQ(res.status, ReadStatus::kTooLarge);
    EXPECT_EQ(res.consumed, 0u);  // the offending packet starts here
    EXPECT_EQ(reader.capacity(), 0u);
    EXPECT_TRUE(r.packets().empty());
  }
  {
    // The same header one byte at a time: the buffer never grows past the header.
    PacketReader reader(1000);
    Recorder r;
    EXPECT_EQ(reader.Read(Span(header, 0, 1), r).status, ReadStatus::kOk);
    EXPECT_LE(reader.capacity(), 64u);
    EXPECT_EQ(reader.Read(Span(header, 1, 1), r).status, ReadStatus::kOk);
    EXPECT_LE(reader.capacity(), 64u);
    ReadResult res = reader.Read(Span(header, 2, 1), r);
    EXPECT_EQ(res.status, ReadStatus::kTooLarge);
    EXPECT_EQ(reader.capacity(), 0u);
    EXPECT_TRUE(reader.buffered().empty());
  }
  {
    // Packets before it in the same read are delivered first.
    const Bytes stream = Concat({kPuback, kPingreq, header});
    PacketReader reader(1000);
    Recorder r;
    ReadResult res = reader.Read(Span(stream), r);
    EXPECT_EQ(res.status, ReadStatus::kTooLarge);
    EXPECT_EQ(res.consumed, kPuback.size() + kPingreq.size());
    EXPECT_EQ(r.packets().size(), 2u);
    EXPECT_EQ(reader.capacity(), 0u);
  }
  {
    // Exactly the maximum is fine: Remaining Length 997 (E5 07) + 3 header bytes = 1000.
    PacketReader reader(1000);
    Recorder r;
    Bytes body(997, 0);
    body[1] = 1;
    body[2] = 't';
    const Bytes ok = Frame(0x30, body);
    ASSERT_EQ(ok[1], 0xE5);
    ASSERT_EQ(ok.size(), 1000u);
    EXPECT_EQ(reader.Read(Span(ok), r).status, ReadStatus::kOk);
    EXPECT_EQ(r.packets().size(), 1u);
  }
}

TEST(PacketReaderTest, MaximumCanBeChanged) {
  PacketReader reader(100);
  EXPECT_EQ(reader.max_packet_size(), 100u);
  Recorder r;
  const Bytes big = Publish(300);
  EXPECT_EQ(reader.Read(Span(big), r).status, ReadStatus::kTooLarge);
  reader.set_max_packet_size(1000);
  EXPECT_EQ(reader.max_packet_size(), 1000u);
  EXPECT_EQ(reader.Read(Span(big), r).status, ReadStatus::kOk);
  EXPECT_EQ(r.packets().size(), 1u);
}

// A peer announcing a huge packet (within the limit) but sending only a few bytes gets no
// large allocation: capacity follows the bytes that arrived.
TEST(PacketReaderTest, HugeAnnouncedPacketAllocatesOnlyWhatArrived) {
  PacketReader reader;  // the default maximum: anything the wire can express
  Recorder r;
  // Remaining Length 200,000,000: 80 84 AF 5F.
  const Bytes header = {0x30, 0x80, 0x84, 0xAF, 0x5F};
  FixedHeader h;
  ASSERT_EQ(ParseFixedHeader(Span(header), kMaxPacketSize, &h), FrameStatus::kOk);
  ASSERT_EQ(h.remaining_length, 200'000'000u);
  Bytes start(header.size() + 10, 'x');
  std::copy(header.begin(), header.end(), start.begin());
  ASSERT_EQ(reader.Read(Span(start), r).status, ReadStatus::kOk);
  EXPECT_EQ(reader.buffered().size(), 15u);
  EXPECT_LE(reader.capacity(), 64u);
  // More arrives in small pieces: the buffer grows geometrically with the data, never to the
  // announced size.
  const Bytes chunk(1000, 'y');
  for (int i = 1; i <= 20; ++i) {
    ASSERT_EQ(reader.Read(Span(chunk), r).status, ReadStatus::kOk);
    const size_t held = reader.buffered().size();
    EXPECT_EQ(held, 15u + 1000u * static_cast<size_t>(i));
    EXPECT_GE(reader.capacity(), held);
    EXPECT_LE(reader.capacity(), 2 * held + 64);
  }
  EXPECT_TRUE(r.packets().empty());
  reader.ClearBuffered();
  EXPECT_TRUE(reader.buffered().empty());
  EXPECT_EQ(reader.capacity(), 0u);
}

// The assembly buffer never exceeds the packet's own size.
TEST(PacketReaderTest, BufferCappedAtThePacketSize) {
  const Bytes big = Publish(1000);
  PacketReader reader;
  Recorder r;
  ASSERT_EQ(reader.Read(Span(big, 0, 900), r).status, ReadStatus::kOk);
  EXPECT_LE(reader.capacity(), big.size());
  EXPECT_GE(reader.capacity(), 900u);
  ASSERT_EQ(reader.Read(Span(big, 900, 50), r).status, ReadStatus::kOk);
  EXPECT_LE(reader.capacity(), big.size());
  ASSERT_EQ(reader.Read(Span(big, 950), r).status, ReadStatus::kOk);
  ExpectDelivered(r, Expected({big}));
}

// kStopped ends the call right after the packet the sink stopped on; `consumed` says where,
// and the caller feeds the rest again.
TEST(PacketReaderTest, StopInsideOneRead) {
  const std::initializer_list<Bytes> packets = {kPuback, kSubscribe, kPingreq};
  const Bytes stream = Concat(packets);
  PacketReader reader;
  Recorder r(/*stop_after=*/2);
  ReadResult res = reader.Read(Span(stream), r);
  EXPECT_EQ(res.status, ReadStatus::kStopped);
  EXPECT_EQ(res.consumed, kPuback.size() + kSubscribe.size());
  EXPECT_EQ(r.packets().size(), 2u);
  EXPECT_TRUE(reader.buffered().empty());
  EXPECT_EQ(reader.capacity(), 0u);

  Recorder rest;
  ReadResult res2 = reader.Read(Span(stream, res.consumed), rest);
  EXPECT_EQ(res2.status, ReadStatus::kOk);
  EXPECT_EQ(res2.consumed, kPingreq.size());
  ExpectDelivered(rest, Expected({kPingreq}));
}

// Stopping on a packet completed from the assembly buffer: `consumed` counts only the bytes
// that completed it, and nothing stays buffered.
TEST(PacketReaderTest, StopOnAnAssembledPacket) {
  const Bytes stream = Concat({kSubscribe, kPuback, kPingreq});
  PacketReader reader;
  Recorder r(/*stop_after=*/1);
  ASSERT_EQ(reader.Read(Span(stream, 0, 4), r).status, ReadStatus::kOk);
  ReadResult res = reader.Read(Span(stream, 4), r);
  EXPECT_EQ(res.status, ReadStatus::kStopped);
  EXPECT_EQ(res.consumed, kSubscribe.size() - 4);
  ASSERT_EQ(r.packets().size(), 1u);
  EXPECT_EQ(r.packets()[0].type, PacketType::kSubscribe);
  EXPECT_TRUE(reader.buffered().empty());
  EXPECT_EQ(reader.capacity(), 0u);

  Recorder rest;
  ASSERT_EQ(reader.Read(Span(stream, 4 + res.consumed), rest).status, ReadStatus::kOk);
  ExpectDelivered(rest, Expected({kPuback, kPingreq}));
}

// A partial packet after the one the sink stopped on is not buffered: the caller feeds it
// again with the rest.
TEST(PacketReaderTest, StopLeavesFollowingBytesUnconsumed) {
  const Bytes stream = Concat({kPuback, kSubscribe});
  PacketReader reader;
  Recorder r(/*stop_after=*/1);
  ReadResult res = reader.Read(Span(stream, 0, kPuback.size() + 3), r);
  EXPECT_EQ(res.status, ReadStatus::kStopped);
  EXPECT_EQ(res.consumed, kPuback.size());
  EXPECT_TRUE(reader.buffered().empty());
}

TEST(PacketReaderTest, MalformedFixedHeader) {
  {
    // Packet type 0 after a good packet.
    const Bytes stream = Concat({kPingreq, {0x00, 0x00}});
    PacketReader reader;
    Recorder r;
    ReadResult res = reader.Read(Span(stream), r);
    EXPECT_EQ(res.status, ReadStatus::kMalformed);
    EXPECT_EQ(res.consumed, kPingreq.size());
    EXPECT_EQ(r.packets().size(), 1u);
  }
  {
    // A five-byte Remaining Length [MQTT-1.5.5-1] arriving in two reads.
    PacketReader reader;
    Recorder r;
    const Bytes a = {0x30, 0x80, 0x80};
    const Bytes b = {0x80, 0x80, 0x01};
    EXPECT_EQ(reader.Read(Span(a), r).status, ReadStatus::kOk);
    EXPECT_EQ(reader.Read(Span(b), r).status, ReadStatus::kMalformed);
    EXPECT_TRUE(reader.buffered().empty());
    EXPECT_EQ(reader.capacity(), 0u);
  }
  {
    // A non-minimal Remaining Length.
    PacketReader reader;
    Recorder r;
    const Bytes bad = {0xC0, 0x80, 0x00};
    EXPECT_EQ(reader.Read(Span(bad), r).status, ReadStatus::kMalformed);
  }
}

TEST(PacketReaderTest, MovedReaderKeepsItsPartialPacket) {
  PacketReader reader;
  Recorder r;
  ASSERT_EQ(reader.Read(Span(kSubscribe, 0, 6), r).status, ReadStatus::kOk);
  PacketReader moved = std::move(reader);
  EXPECT_EQ(moved.buffered().size(), 6u);
  ASSERT_EQ(moved.Read(Span(kSubscribe, 6), r).status, ReadStatus::kOk);
  ExpectDelivered(r, Expected({kSubscribe}));
}

// Random streams cut into random reads, seeded; the seed is printed on failure.
TEST(PacketReaderTest, RandomChunking) {
  constexpr uint32_t kSeed = 0xC0FFEE;
  SCOPED_TRACE(testing::Message() << "seed " << kSeed);
  std::mt19937 rng(kSeed);
  auto pick = [&rng](size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
  };
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<Bytes> packets;
    Bytes stream;
    const size_t count = pick(1, 20);
    for (size_t i = 0; i < count; ++i) {
      Bytes p;
      switch (pick(0, 3)) {
        case 0:
          p = kPingreq;
          break;
        case 1:
          p = kPuback;
          break;
        case 2:
          p = kSubscribe;
          break;
        default:
          p = Publish(pick(0, 20'000));
          break;
      }
      stream.insert(stream.end(), p.begin(), p.end());
      packets.push_back(std::move(p));
    }
    PacketReader reader;
    Recorder r;
    size_t pos = 0;
    while (pos < stream.size()) {
      const size_t len = std::min(stream.size() - pos, pick(1, 3000));
      ReadResult res = reader.Read(Span(stream, pos, len), r);
      ASSERT_EQ(res.status, ReadStatus::kOk);
      ASSERT_EQ(res.consumed, len);
      pos += len;
    }
    ASSERT_EQ(r.packets().size(), packets.size()) << "iteration " << iter;
    for (size_t i = 0; i < packets.size(); ++i) {
      const Bytes& p = packets[i];
      const Bytes& body = r.packets()[i].body;
      ASSERT_TRUE(std::equal(body.begin(), body.end(), p.end() - static_cast<long>(body.size())))
          << "iteration " << iter << " packet " << i;
      ASSERT_EQ(r.packets()[i].type, static_cast<PacketType>(p[0] >> 4));
    }
    EXPECT_EQ(reader.capacity(), 0u);
  }
}

}  // namespace
}  // namespace ringmq::mqtt
