// Message: one application message inside the broker (what a PUBLISH carries, minus what is
// per-hop). Immutable once made, reference-counted (atomically: a message published on one
// shard is delivered by every shard with a matching subscriber), one allocation holding the
// topic, payload, publisher id and the MQTT 5 properties that are forwarded.
//
// Forwarded properties [MQTT-3.3.2-4/15/16/17/20]: Payload Format Indicator, Content Type,
// Response Topic, Correlation Data and User Properties, kept as their encoded bytes (in the
// publisher's order) so every delivery copies them as one block. Message Expiry is kept as an
// absolute deadline and re-computed per delivery [MQTT-3.3.2-6]; Topic Alias and
// Subscription Identifiers are per hop and never stored.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>

#include "absl/container/inlined_vector.h"

#include "core/mqtt/types.h"

namespace ringmq::broker {

class Message;

// The Subscription Identifiers a delivery carries (5.0): one per matching subscription that
// has one, all in one PUBLISH [MQTT-3.3.4-3].
using SubscriptionIds = absl::InlinedVector<uint32_t, 1>;

class MessageRef {
 public:
  MessageRef() = default;
  static MessageRef Adopt(Message* m) { return MessageRef(m); }
  MessageRef(const MessageRef& o);
  MessageRef(MessageRef&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  MessageRef& operator=(MessageRef o) noexcept {
    std::swap(m_, o.m_);
    return *this;
  }
  ~MessageRef();

  Message* get() const { return m_; }
  Message* operator->() const { return m_; }
  const Message& operator*() const { return *m_; }
  explicit operator bool() const { return m_ != nullptr; }
  // Hands the reference to a raw pointer (e.g. into a mailbox envelope); take it back with
  // Adopt().
  Message* release() { return std::exchange(m_, nullptr); }

 private:
  explicit MessageRef(Message* m) : m_(m) {}
  Message* m_ = nullptr;
};

struct MessageInit {
  std::string_view topic;
  std::string_view payload;
  std::string_view forward_properties;  // encoded property bytes, no length prefix
  std::string_view publisher_id;        // client id, for No Local
  mqtt::Qos qos = mqtt::Qos::k0;
  bool retain = false;
  int64_t expiry_deadline_ms = 0;  // monotonic ms; 0: never expires
  uint64_t id = 0;  // identity within this run (persistence::MessageView::id); 0: none
  // Made while the store could not keep new messages: refused by every persistent session
  // (and the retained store) it reaches, on every shard; decided once, where it is made.
  bool store_refused = false;
};

class Message {
 public:
  static MessageRef Create(const MessageInit& init);

  std::string_view topic() const { return {data(), topic_len_}; }
  std::string_view payload() const { return {data() + topic_len_, payload_len_}; }
  std::string_view forward_properties() const {
    return {data() + topic_len_ + payload_len_, props_len_};
  }
  std::string_view publisher_id() const {
    return {data() + topic_len_ + payload_len_ + props_len_, publisher_len_};
  }
  mqtt::Qos qos() const { return qos_; }
  bool retain() const { return retain_; }
  int64_t expiry_deadline_ms() const { return expiry_deadline_ms_; }
  uint64_t id() const { return id_; }
  bool store_refused() const { return store_refused_; }
  bool Expired(int64_t now_ms) const {
    return expiry_deadline_ms_ != 0 && now_ms >= expiry_deadline_ms_;
  }
  // Seconds left for the forwarded Message Expiry Interval (at least 1 while not expired).
  uint32_t RemainingExpiryS(int64_t now_ms) const;
  // Bytes held by this message (for queue accounting).
  size_t footprint() const {
    return sizeof(Message) + topic_len_ + payload_len_ + props_len_ + publisher_len_;
  }

  void Ref() const { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() const;

 private:
  Message() = default;
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }

  mutable std::atomic<uint32_t> refs_{1};
  uint32_t topic_len_ = 0;
  uint32_t payload_len_ = 0;
  uint32_t props_len_ = 0;
  uint32_t publisher_len_ = 0;
  int64_t expiry_deadline_ms_ = 0;
  uint64_t id_ = 0;
  mqtt::Qos qos_ = mqtt::Qos::k0;
  bool retain_ = false;
  bool store_refused_ = false;
};

inline MessageRef::MessageRef(const MessageRef& o) : m_(o.m_) {
  if (m_ != nullptr) {
    m_->Ref();
  }
}

inline MessageRef::~MessageRef() {
  if (m_ != nullptr) {
    m_->Unref();
  }
}

}  // namespace ringmq::broker
