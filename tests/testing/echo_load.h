// An independent echo client for engine tests: opens many connections to 127.0.0.1:port
// with plain non-blocking sockets and epoll (not the engine under test), keeps them open
// together, sends each a distinct deterministic byte pattern, and verifies every byte that
// comes back, in order.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ringmq::testing {

struct EchoLoadOptions {
  uint16_t port = 0;
  int connections = 100;
  size_t bytes_per_connection = 1024;
  size_t write_chunk = 16384;  // bytes per send() call
  int connect_batch = 512;     // connects in flight at once
  std::chrono::milliseconds timeout{60'000};
};

struct EchoLoadResult {
  int connected = 0;
  int verified = 0;  // connections whose every byte came back intact
  uint64_t bytes_echoed = 0;
  std::string error;  // first failure, empty if none
  double connect_s = 0;
  double transfer_s = 0;
};

EchoLoadResult RunEchoLoad(const EchoLoadOptions& options);

// The pattern byte `k` of connection `i`.
inline uint8_t PatternByte(int i, size_t k) {
  return static_cast<uint8_t>((static_cast<size_t>(i) * 131u + k * 7u + (k >> 8)) & 0xFF);
}

}  // namespace ringmq::testing
