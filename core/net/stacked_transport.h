// StackedTransport: one transport under another on the same connection: socket, outer
// (TLS), inner (WebSocket), application. Read bytes go through the outer, what it hands on
// through the inner; the inner's own answers (a handshake reply, a pong) and the
// application's output go through the inner, then the outer. Status: the worse of the two
// (kClose over kCloseAfterSend over kOk); when the inner asks to close after its last bytes,
// those bytes are still framed by the outer, and the outer's closing bytes (TLS close_notify)
// follow them. When the outer ends first (the peer's close_notify, an alert), what it handed
// on still goes through the inner to the application; the inner's answers are dropped.
#pragma once

#include <memory>
#include <string>

#include "core/net/transport.h"

namespace ringmq::net {

class StackedTransport : public Transport {
 public:
  StackedTransport(std::unique_ptr<Transport> outer, std::unique_ptr<Transport> inner)
      : outer_(std::move(outer)), inner_(std::move(inner)) {}

  Status OnInbound(std::span<const uint8_t> in, std::string* app, OutputQueue* wire) override;
  Status OnOutbound(OutputQueue* app, OutputQueue* wire) override;
  void OnClosing(OutputQueue* wire) override;
  std::string_view PeerIdentity() const override;

 private:
  // Frames what the inner queued (inner_wire_) through the outer; closes the outer after the
  // inner's last bytes when `inner` says so.
  Status ThroughOuter(Status inner, OutputQueue* wire);

  std::unique_ptr<Transport> outer_;
  std::unique_ptr<Transport> inner_;
  std::string between_;     // what the outer handed on, for the inner
  OutputQueue inner_wire_;  // what the inner produced, for the outer
};

}  // namespace ringmq::net
