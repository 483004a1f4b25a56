#include "core/plugin/plugin_transport.h"

#include <sys/uio.h>

#include <array>
#include <cstring>

namespace ringmq::plugin {
namespace {

net::Transport::Status StatusOf(uint32_t answer) {
  switch (answer) {
    case RINGMQ_TRANSPORT_OK:
      return net::Transport::Status::kOk;
    case RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE:
      return net::Transport::Status::kCloseAfterSend;
    default:
      return net::Transport::Status::kClose;  // RINGMQ_TRANSPORT_CLOSE and unknown values
  }
}

}  // namespace

PluginTransport::~PluginTransport() {
  hooks_->transport_close(state_);
}

net::Transport::Status PluginTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                                  net::OutputQueue* wire) {
  ringmq_bytes app_bytes{nullptr, app};
  ringmq_bytes wire_bytes{wire, nullptr};
  const ringmq_str view{reinterpret_cast<const char*>(in.data()), in.size()};
  return StatusOf(hooks_->transport_inbound(state_, view, &app_bytes, &wire_bytes));
}

net::Transport::Status PluginTransport::OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) {
  // The whole queue in one call when it fits in 64 segments (the usual case: small packets
  // share 4 KiB chunks); otherwise in rounds, each framed on its own.
  constexpr int kMaxParts = 64;
  std::array<iovec, kMaxParts> iov;
  std::array<ringmq_str, kMaxParts> parts;
  ringmq_bytes wire_bytes{wire, nullptr};
  while (!app->empty()) {
    size_t total = 0;
    const int n = app->Gather(iov.data(), kMaxParts, SIZE_MAX, &total);
    for (int i = 0; i < n; ++i) {
      parts[i] = {static_cast<const char*>(iov[i].iov_base), iov[i].iov_len};
    }
    const uint32_t answer =
        hooks_->transport_outbound(state_, parts.data(), static_cast<size_t>(n), &wire_bytes);
    app->Consume(total);
    if (answer != RINGMQ_TRANSPORT_OK) {
      return StatusOf(answer);
    }
  }
  return Status::kOk;
}

void PluginTransport::OnClosing(net::OutputQueue* wire) {
  if (hooks_->transport_closing != nullptr) {
    ringmq_bytes wire_bytes{wire, nullptr};
    hooks_->transport_closing(state_, &wire_bytes);
  }
}

void BytesAppend(ringmq_bytes* b, const void* data, size_t len) {
  if (b == nullptr || len == 0) {
    return;
  }
  if (b->queue != nullptr) {
    b->queue->Append(std::span(static_cast<const uint8_t*>(data), len));
  } else {
    b->text->append(static_cast<const char*>(data), len);
  }
}

uint8_t* BytesReserve(ringmq_bytes* b, size_t len) {
  if (b == nullptr || len == 0) {
    return nullptr;
  }
  if (b->queue != nullptr) {
    return b->queue->AppendUninitialized(len);
  }
  const size_t at = b->text->size();
  b->text->resize(at + len);
  return reinterpret_cast<uint8_t*>(b->text->data() + at);
}

}  // namespace ringmq::plugin
