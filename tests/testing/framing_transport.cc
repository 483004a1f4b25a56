#include "tests/testing/framing_transport.h"

#include <algorithm>

namespace ringmq::testing {
namespace {

constexpr size_t kMaxRecord = 300;

void AppendRecord(std::string_view bytes, std::string* out) {
  out->push_back(static_cast<char>(bytes.size() >> 8));
  out->push_back(static_cast<char>(bytes.size() & 0xFF));
  out->append(bytes);
}

// Takes whole records from the front of *pending into *out; false on an empty record.
bool TakeRecords(std::string* pending, std::string* out) {
  size_t pos = 0;
  while (pending->size() - pos >= 2) {
    const size_t len =
        (static_cast<uint8_t>((*pending)[pos]) << 8) | static_cast<uint8_t>((*pending)[pos + 1]);
    if (len == 0) {
      return false;
    }
    if (pending->size() - pos - 2 < len) {
      break;
    }
    out->append(*pending, pos + 2, len);
    pos += 2 + len;
  }
  pending->erase(0, pos);
  return true;
}

}  // namespace

net::Transport::Status FramingTransport::OnInbound(std::span<const uint8_t> in, std::string* app,
                                                   net::OutputQueue* wire) {
  pending_.append(reinterpret_cast<const char*>(in.data()), in.size());
  if (!greeted_) {
    if (pending_.size() < kHello.size()) {
      return std::string_view(pending_) == kHello.substr(0, pending_.size()) ? Status::kOk
                                                                             : Status::kClose;
    }
    if (!pending_.starts_with(kHello)) {
      return Status::kClose;
    }
    pending_.erase(0, kHello.size());
    greeted_ = true;
    wire->Append(std::span(reinterpret_cast<const uint8_t*>(kWelcome.data()), kWelcome.size()));
  }
  return TakeRecords(&pending_, app) ? Status::kOk : Status::kClose;
}

net::Transport::Status FramingTransport::OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) {
  std::string all;
  while (!app->empty()) {
    std::span<const uint8_t> front = app->Front();
    all.append(reinterpret_cast<const char*>(front.data()), front.size());
    app->Consume(front.size());
  }
  std::string framed;
  for (size_t pos = 0; pos < all.size();) {
    const size_t n = std::min(all.size() - pos, 1 + rng_() % kMaxRecord);
    AppendRecord(std::string_view(all).substr(pos, n), &framed);
    pos += n;
  }
  wire->Append(std::span(reinterpret_cast<const uint8_t*>(framed.data()), framed.size()));
  return Status::kOk;
}

std::string FramingPeer::Frame(std::string_view bytes) {
  std::string framed;
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t n = std::min(bytes.size() - pos, 1 + rng_() % kMaxRecord);
    AppendRecord(bytes.substr(pos, n), &framed);
    pos += n;
  }
  return framed;
}

bool FramingPeer::Unframe(std::string_view in, std::string* out) {
  pending_.append(in);
  if (!welcomed_) {
    if (pending_.size() < kWelcome.size()) {
      return std::string_view(pending_) == kWelcome.substr(0, pending_.size());
    }
    if (!pending_.starts_with(kWelcome)) {
      return false;
    }
    pending_.erase(0, kWelcome.size());
    welcomed_ = true;
  }
  return TakeRecords(&pending_, out);
}

}  // namespace ringmq::testing
