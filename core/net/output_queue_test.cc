#include "core/net/output_queue.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace ringmq::net {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Concatenates what Gather() describes.
std::string Gathered(const OutputQueue& q, int max_iov = 64, size_t max_bytes = 1 << 30) {
  iovec iov[64];
  size_t total = 0;
  int n = q.Gather(iov, max_iov, max_bytes, &total);
  std::string out;
  for (int i = 0; i < n; ++i) {
    out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  }
  EXPECT_EQ(out.size(), total);
  return out;
}

TEST(OutputQueueTest, SmallWritesCoalesceIntoOneSegment) {
  OutputQueue q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 100; ++i) {
    q.Append(Bytes("ack" + std::to_string(i) + ";"));
  }
  EXPECT_EQ(q.segments(), 1u) << "small packets of one iteration should leave in one send";
  std::string expect;
  for (int i = 0; i < 100; ++i) {
    expect += "ack" + std::to_string(i) + ";";
  }
  EXPECT_EQ(q.bytes(), expect.size());
  EXPECT_EQ(Gathered(q), expect);
}

TEST(OutputQueueTest, PartialConsumeContinuesWhereItStopped) {
  OutputQueue q;
  std::string a(3000, 'a'), b(3000, 'b');
  q.Append(Bytes(a));
  q.Append(Bytes(b));  // spills into a second chunk
  EXPECT_EQ(q.segments(), 2u);
  q.Consume(1000);
  EXPECT_EQ(Gathered(q), a.substr(1000) + b);
  q.Consume(2500);  // crosses the segment boundary
  EXPECT_EQ(Gathered(q), b.substr(500));
  q.Append(Bytes("tail"));  // appends in place after a partial consume
  EXPECT_EQ(Gathered(q), b.substr(500) + "tail");
  q.Consume(q.bytes());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(OutputQueueTest, SharedBuffersAreReferencedNotCopied) {
  BufferRef shared = BufferRef::Adopt(Buffer::Copy(Bytes("0123456789")));
  OutputQueue q1, q2;
  q1.Append(Bytes("["));
  q1.AppendShared(shared, 2, 5);
  q1.Append(Bytes("]"));
  q2.AppendShared(shared, 0, 10);
  EXPECT_FALSE(shared->unique()) << "both queues must hold a reference";
  EXPECT_EQ(Gathered(q1), "[23456]");
  EXPECT_EQ(q1.segments(), 3u);
  iovec iov[4];
  size_t total;
  ASSERT_EQ(q2.Gather(iov, 4, 1 << 20, &total), 1);
  EXPECT_EQ(iov[0].iov_base, shared->data()) << "shared bytes must not be copied";
  q1.Clear();
  q2.Consume(10);
  EXPECT_TRUE(shared->unique()) << "references must be released";
}

TEST(OutputQueueTest, GatherRespectsIovAndByteLimits) {
  BufferRef b1 = BufferRef::Adopt(Buffer::Copy(Bytes("aaaa")));
  BufferRef b2 = BufferRef::Adopt(Buffer::Copy(Bytes("bbbb")));
  BufferRef b3 = BufferRef::Adopt(Buffer::Copy(Bytes("cccc")));
  OutputQueue q;
  q.AppendShared(b1, 0, 4);
  q.AppendShared(b2, 0, 4);
  q.AppendShared(b3, 0, 4);
  EXPECT_EQ(Gathered(q, /*max_iov=*/2), "aaaabbbb");
  EXPECT_EQ(Gathered(q, 64, /*max_bytes=*/6), "aaaabb");
}

TEST(OutputQueueTest, ManySegmentsGrowTheRing) {
  OutputQueue q;
  std::vector<BufferRef> bufs;
  std::string expect;
  for (int i = 0; i < 100; ++i) {
    std::string s = "<" + std::to_string(i) + ">";
    bufs.push_back(BufferRef::Adopt(Buffer::Copy(Bytes(s))));
    q.AppendShared(bufs.back(), 0, s.size());
    expect += s;
    if (i % 3 == 0) {
      q.Append(Bytes("|"));
      expect += "|";
    }
  }
  std::string all;
  while (!q.empty()) {
    iovec iov[7];
    size_t total;
    int n = q.Gather(iov, 7, 1 << 20, &total);
    for (int i = 0; i < n; ++i) {
      all.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    q.Consume(total > 5 ? total - 5 : total);  // partial sends of odd sizes
    all.resize(all.size() - (total > 5 ? 5 : 0));
  }
  EXPECT_EQ(all, expect);
}

TEST(OutputQueueTest, UninitializedAppendIsContiguousAndAccounted) {
  OutputQueue q;
  uint8_t* p = q.AppendUninitialized(4);
  std::memcpy(p, "abcd", 4);
  uint8_t* p2 = q.AppendUninitialized(2);
  EXPECT_EQ(p2, p + 4);
  std::memcpy(p2, "ef", 2);
  EXPECT_EQ(Gathered(q), "abcdef");
  uint8_t* big = q.AppendUninitialized(10'000);  // larger than a chunk: its own buffer
  std::memset(big, 'z', 10'000);
  EXPECT_EQ(q.bytes(), 10'006u);
  EXPECT_EQ(Gathered(q), "abcdef" + std::string(10'000, 'z'));
}

}  // namespace
}  // namespace ringmq::net
