#include "core/net/stacked_transport.h"

namespace ringmq::net {

Transport::Status StackedTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                              OutputQueue* wire) {
  between_.clear();
  const Status outer = outer_->OnInbound(in, &between_, wire);
  if (outer == Status::kClose || between_.empty()) {
    return outer;
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(between_.data()),
                                       between_.size());
  const Status inner = inner_->OnInbound(bytes, app, &inner_wire_);
  if (outer == Status::kCloseAfterSend) {
    // The outer has ended (its close_notify or alert is on the wire already): what the inner
    // handed on still reaches the application, its answers can no longer be framed.
    inner_wire_.Clear();
    return inner == Status::kClose ? inner : outer;
  }
  return ThroughOuter(inner, wire);
}

Transport::Status StackedTransport::OnOutbound(OutputQueue* app, OutputQueue* wire) {
  return ThroughOuter(inner_->OnOutbound(app, &inner_wire_), wire);
}

Transport::Status StackedTransport::ThroughOuter(Status inner, OutputQueue* wire) {
  if (inner == Status::kClose) {
    return inner;
  }
  const Status outer = inner_wire_.empty() ? Status::kOk : outer_->OnOutbound(&inner_wire_, wire);
  if (outer != Status::kOk) {
    return outer;
  }
  if (inner == Status::kCloseAfterSend) {
    outer_->OnClosing(wire);
  }
  return inner;
}

void StackedTransport::OnClosing(OutputQueue* wire) {
  inner_->OnClosing(&inner_wire_);
  if (!inner_wire_.empty()) {
    outer_->OnOutbound(&inner_wire_, wire);
  }
  outer_->OnClosing(wire);
}

std::string_view StackedTransport::PeerIdentity() const {
  const std::string_view outer = outer_->PeerIdentity();
  return outer.empty() ? inner_->PeerIdentity() : outer;
}

}  // namespace ringmq::net
