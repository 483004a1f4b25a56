// The header every benchmark payload starts with. Pure functions; any thread.
//
//   offset 0  u32  run id      (random per run: messages left over from another run, e.g.
//                               queued in a persistent session, are recognised and ignored)
//   offset 4  u32  publisher   (global publisher index)
//   offset 8  u64  sequence    (per publisher, from 0, warm-up included)
//   offset 16 u64  send time   (CLOCK_MONOTONIC ns; publisher and subscriber share the host)
// Little-endian, as the host is. The rest of the payload is filler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/base/clock.h"

namespace ringmq::bench {

inline constexpr size_t kPayloadHeaderSize = 24;

struct PayloadHeader {
  uint32_t run_id = 0;
  uint32_t publisher = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
};

inline void WritePayloadHeader(uint8_t* p, const PayloadHeader& h) {
  std::memcpy(p, &h.run_id, 4);
  std::memcpy(p + 4, &h.publisher, 4);
  std::memcpy(p + 8, &h.seq, 8);
  std::memcpy(p + 16, &h.send_ns, 8);
}

// False if the payload is too short to carry a header.
inline bool ReadPayloadHeader(std::string_view payload, PayloadHeader* h) {
  if (payload.size() < kPayloadHeaderSize) {
    return false;
  }
  const char* p = payload.data();
  std::memcpy(&h->run_id, p, 4);
  std::memcpy(&h->publisher, p + 4, 4);
  std::memcpy(&h->seq, p + 8, 8);
  std::memcpy(&h->send_ns, p + 16, 8);
  return true;
}

inline uint64_t MonotonicNs() {
  return static_cast<uint64_t>(base::MonotonicNs());
}

}  // namespace ringmq::bench
