// FramingTransport: a test double of net::Transport that does what TLS and WebSocket do to the
// bytes, without their cryptography or HTTP: a handshake, then records. The client first
// sends "HELLO\n" and the transport answers "WELCOME\n"; no application byte passes before.
// After it, each direction carries records: a 2-byte big-endian length, then that many bytes.
// Outbound, what the application wrote in a loop iteration is cut into records of random sizes
// (so MQTT packets straddle records, and records hold parts of several packets); inbound,
// records are reassembled from reads of any size. A bad hello or an empty record closes the
// connection. FramingPeer is the client's side of the same framing.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "core/net/transport.h"

namespace ringmq::testing {

inline constexpr std::string_view kHello = "HELLO\n";
inline constexpr std::string_view kWelcome = "WELCOME\n";

class FramingTransport final : public net::Transport {
 public:
  explicit FramingTransport(uint64_t seed) : rng_(seed) {}
  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override;
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override;

 private:
  std::mt19937_64 rng_;
  bool greeted_ = false;
  std::string pending_;  // bytes of an incomplete hello or record
};

// The client's side: frames what it sends, unframes what it receives.
class FramingPeer {
 public:
  explicit FramingPeer(uint64_t seed) : rng_(seed) {}
  // `bytes` as records of random sizes.
  std::string Frame(std::string_view bytes);
  // Takes received bytes; appends the application bytes they complete to *out. False on a
  // framing error.
  bool Unframe(std::string_view in, std::string* out);

 private:
  std::mt19937_64 rng_;
  bool welcomed_ = false;
  std::string pending_;
};

}  // namespace ringmq::testing
