// PublishEncoder: encodes one message as a PUBLISH once per variant (5.0 or not, QoS,
// RETAIN, Subscription Identifier), so a fan-out on one shard shares the bytes among all
// receivers of a variant; each receiver's packet id (and DUP bit) is stamped into its own
// copy of the header. Lives for one message's delivery on one shard. Shard-local.
#pragma once

#include <cstdint>

#include "absl/container/inlined_vector.h"

#include "core/broker/message.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/varint.h"
#include "core/net/buffer.h"

namespace ringmq::broker {

// Encodes one message once per variant (5.0 or not, QoS, RETAIN, Subscription Identifier).
// Lives for one message's fan-out on one shard.
class PublishEncoder {
 public:
  PublishEncoder(const Message& m, int64_t now_ms) : m_(m), now_ms_(now_ms) {}

  struct Variant {
    bool v5;
    mqtt::Qos qos;
    bool retain;
    uint32_t subscription_id;
    net::BufferRef bytes;
    size_t packet_id_offset;
  };

  const Variant& Get(mqtt::ProtocolVersion v, mqtt::Qos qos, bool retain,
                     uint32_t subscription_id) {
    const bool v5 = mqtt::IsV5(v);
    if (!v5) {
      subscription_id = 0;
    }
    for (const Variant& x : variants_) {
      if (x.v5 == v5 && x.qos == qos && x.retain == retain &&
          x.subscription_id == subscription_id) {
        return x;
      }
    }
    mqtt::Publish p;
    uint8_t sub_buf[8];
    Fill(v, qos, retain, subscription_id, &p, sub_buf);
    const size_t n = mqtt::EncodedSize(p, v);
    net::Buffer* b = net::Buffer::Allocate(n);
    mqtt::Encode(p, v, b->data());
    b->set_size(n);
    Variant var{v5,
                qos,
                retain,
                subscription_id,
                net::BufferRef::Adopt(b),
                qos == mqtt::Qos::k0 ? 0 : mqtt::PublishPacketIdOffset(p, v)};
    variants_.push_back(std::move(var));
    return variants_.back();
  }

  // Fills a PUBLISH for this message (packet id 1 as a placeholder for QoS 1/2).
  void Fill(mqtt::ProtocolVersion v, mqtt::Qos qos, bool retain, uint32_t subscription_id,
            mqtt::Publish* p, uint8_t* sub_buf) const {
    p->topic = m_.topic();
    p->payload = m_.payload();
    p->qos = qos;
    p->retain = retain;
    p->packet_id = qos == mqtt::Qos::k0 ? 0 : 1;
    if (mqtt::IsV5(v)) {
      p->properties.encoded_extra = m_.forward_properties();
      if (m_.expiry_deadline_ms() != 0) {
        // What is left of the lifetime [MQTT-3.3.2-6].
        p->properties.SetMessageExpiryInterval(m_.RemainingExpiryS(now_ms_));
      }
      if (subscription_id != 0) {
        sub_buf[0] = static_cast<uint8_t>(mqtt::PropertyId::kSubscriptionIdentifier);
        uint8_t* end = mqtt::EncodeVarint(sub_buf + 1, subscription_id);
        p->properties.subscription_ids = mqtt::SubscriptionIdList(
            std::string_view(reinterpret_cast<const char*>(sub_buf), end - sub_buf));
      }
    }
  }

 private:
  const Message& m_;
  const int64_t now_ms_;
  absl::InlinedVector<Variant, 2> variants_;
};

}  // namespace ringmq::broker
