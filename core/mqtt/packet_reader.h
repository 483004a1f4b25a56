// Incremental framing of a byte stream into MQTT packets. One per connection; not
// thread-safe (used by the shard that owns the connection).
//
// Bytes arrive in reads of any size: a packet may span many reads, and one read may hold
// many packets. Read() hands each complete packet to a sink as (FixedHeader, body) where the
// body is contiguous. Packets that lie wholly inside one read are handed over in place, with
// no copy (the common case: small packets, large kernel buffers); only a packet that spans
// reads is assembled in the reader's own buffer. That buffer is allocated only while such a
// packet is incomplete, so an idle connection holds no buffer at all.
//
// A packet larger than the maximum packet size is refused as soon as its fixed header is
// seen, before any of its body is buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "core/base/asserts.h"
#include "core/mqtt/decoder.h"

namespace ringmq::mqtt {

enum class ReadStatus : uint8_t {
  kOk,         // all input consumed (complete packets delivered, a partial one buffered)
  kStopped,    // the sink asked to stop; `consumed` tells how far the input was used
  kMalformed,  // bad fixed header: close with Malformed Packet
  kTooLarge,   // over the maximum packet size: close with Packet too large
};

struct ReadResult {
  ReadStatus status = ReadStatus::kOk;
  size_t consumed = 0;  // bytes of the input used (all of them unless kStopped or an error)
};

// What a sink returns for each packet.
enum class SinkAction : uint8_t { kContinue, kStop };

class PacketReader {
 public:
  explicit PacketReader(uint32_t max_packet_size = kMaxPacketSize)
      : max_packet_size_(max_packet_size) {}

  PacketReader(const PacketReader&) = delete;
  PacketReader& operator=(const PacketReader&) = delete;
  PacketReader(PacketReader&&) = default;
  PacketReader& operator=(PacketReader&&) = default;

  void set_max_packet_size(uint32_t n) { max_packet_size_ = n; }
  uint32_t max_packet_size() const { return max_packet_size_; }

  // Bytes of an incomplete packet held from earlier reads.
  std::span<const uint8_t> buffered() const { return {buf_.get(), buf_len_}; }
  // Drops the buffered bytes (e.g. after they were handed to another shard with the socket).
  void ClearBuffered() { Release(); }

  // Feeds `data`; calls `sink(const FixedHeader&, std::span<const uint8_t> body)` for each
  // complete packet, in order. A sink returning kStop ends the call at once: the bytes after
  // that packet are not consumed (ReadResult::consumed says where it stopped).
  template <typename Sink>
  ReadResult Read(std::span<const uint8_t> data, Sink&& sink);

  // Heap bytes held (for memory accounting).
  size_t capacity() const { return buf_cap_; }

 private:
  // Appends to the assembly buffer; `need` is the size of the whole packet being assembled
  // (or 5 while its header is incomplete), the most the buffer will ever have to hold.
  void Append(const uint8_t* p, size_t n, size_t need);
  void Release() {
    buf_.reset();
    buf_len_ = 0;
    buf_cap_ = 0;
  }

  std::unique_ptr<uint8_t[]> buf_;
  uint32_t buf_len_ = 0;
  uint32_t buf_cap_ = 0;
  uint32_t max_packet_size_;
};

template <typename Sink>
ReadResult PacketReader::Read(std::span<const uint8_t> data, Sink&& sink) {
  size_t pos = 0;
  const size_t n = data.size();

  // 1. Finish a packet started in an earlier read.
  if (buf_len_ > 0) {
    FixedHeader h;
    // The header may itself be incomplete (at most 5 bytes); top it up byte by byte.
    FrameStatus fs = ParseFixedHeader(buffered(), max_packet_size_, &h);
    while (fs == FrameStatus::kNeedMore && pos < n) {
      Append(data.data() + pos, 1, 5);
      ++pos;
      fs = ParseFixedHeader(buffered(), max_packet_size_, &h);
    }
    switch (fs) {
      case FrameStatus::kNeedMore:
        return {ReadStatus::kOk, pos};
      case FrameStatus::kMalformed:
        Release();
        return {ReadStatus::kMalformed, pos};
      case FrameStatus::kTooLarge:
        Release();
        return {ReadStatus::kTooLarge, pos};
      case FrameStatus::kOk:
        break;
    }
    const size_t total = h.packet_size();
    const size_t want = total - buf_len_;
    const size_t take = want < n - pos ? want : n - pos;
    Append(data.data() + pos, take, total);
    pos += take;
    if (buf_len_ < total) {
      return {ReadStatus::kOk, pos};
    }
    // Complete. Keep the buffer alive during the sink call, then free it.
    std::unique_ptr<uint8_t[]> packet = std::move(buf_);
    buf_len_ = 0;
    buf_cap_ = 0;
    SinkAction a =
        sink(h, std::span<const uint8_t>(packet.get() + h.header_size, h.remaining_length));
    if (a == SinkAction::kStop) {
      return {ReadStatus::kStopped, pos};
    }
  }

  // 2. Packets wholly inside this read: no copy.
  while (pos < n) {
    FixedHeader h;
    FrameStatus fs = ParseFixedHeader(data.subspan(pos), max_packet_size_, &h);
    if (fs == FrameStatus::kMalformed) {
      return {ReadStatus::kMalformed, pos};
    }
    if (fs == FrameStatus::kTooLarge) {
      return {ReadStatus::kTooLarge, pos};
    }
    if (fs == FrameStatus::kNeedMore || n - pos < h.packet_size()) {
      // 3. A partial packet: buffer what there is, sized for the whole packet when known.
      size_t need = fs == FrameStatus::kOk ? h.packet_size() : 5;
      Append(data.data() + pos, n - pos, need);
      return {ReadStatus::kOk, n};
    }
    SinkAction a = sink(h, data.subspan(pos + h.header_size, h.remaining_length));
    pos += h.packet_size();
    if (a == SinkAction::kStop) {
      return {ReadStatus::kStopped, pos};
    }
  }
  return {ReadStatus::kOk, pos};
}

inline void PacketReader::Append(const uint8_t* p, size_t n, size_t need) {
  const size_t want = buf_len_ + n;
  if (want > buf_cap_) {
    // Grow geometrically, never past the packet's declared size: a peer that sends only a
    // fixed header announcing a large packet gets no large allocation for it, since memory
    // follows the bytes that actually arrive.
    size_t cap = buf_cap_ * 2;
    cap = cap < want ? want : cap;
    cap = cap < 64 ? 64 : cap;
    cap = cap > need && need >= want ? need : cap;
    auto fresh = std::make_unique_for_overwrite<uint8_t[]>(cap);
    if (buf_len_ > 0) {
      std::memcpy(fresh.get(), buf_.get(), buf_len_);
    }
    buf_ = std::move(fresh);
    buf_cap_ = static_cast<uint32_t>(cap);
  }
  if (n > 0) {
    std::memcpy(buf_.get() + buf_len_, p, n);
  }
  buf_len_ += static_cast<uint32_t>(want - buf_len_);
}

}  // namespace ringmq::mqtt
