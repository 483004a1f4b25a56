// PublishEncoder: encodes one message as a PUBLISH once per variant (5.0 or not, QoS,
// RETAIN, Subscription Identifiers), so a fan-out on one shard shares the bytes among all
// receivers of a variant; each receiver's packet id (and DUP bit) is stamped into its own
// copy of the header. Lives for one message's delivery on one shard. Shard-local.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"

#include "core/broker/message.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/varint.h"
#include "core/net/buffer.h"

namespace ringmq::broker {

class PublishEncoder {
 public:
  PublishEncoder(const Message& m, int64_t now_ms) : m_(m), now_ms_(now_ms) {}

  struct Variant {
    bool v5;
    mqtt::Qos qos;
    bool retain;
    SubscriptionIds subscription_ids;
    net::BufferRef bytes;
    size_t packet_id_offset;
  };

  const Variant& Get(mqtt::ProtocolVersion v, mqtt::Qos qos, bool retain,
                     const SubscriptionIds& ids) {
    const bool v5 = mqtt::IsV5(v);
    static const SubscriptionIds kNone;
    const SubscriptionIds& key = v5 ? ids : kNone;
    for (const Variant& x : variants_) {
      if (x.v5 == v5 && x.qos == qos && x.retain == retain && x.subscription_ids == key) {
        return x;
      }
    }
    mqtt::Publish p;
    std::string sub_buf;
    Fill(v, qos, retain, key, &p, &sub_buf);
    const size_t n = mqtt::EncodedSize(p, v);
    net::Buffer* b = net::Buffer::Allocate(n);
    mqtt::Encode(p, v, b->data());
    b->set_size(n);
    variants_.push_back(Variant{v5, qos, retain, key, net::BufferRef::Adopt(b),
                                qos == mqtt::Qos::k0 ? 0 : mqtt::PublishPacketIdOffset(p, v)});
    return variants_.back();
  }

  // Fills a PUBLISH for this message (packet id 1 as a placeholder for QoS 1/2). The
  // Subscription Identifier properties are encoded into *sub_buf, which must outlive *p.
  void Fill(mqtt::ProtocolVersion v, mqtt::Qos qos, bool retain, const SubscriptionIds& ids,
            mqtt::Publish* p, std::string* sub_buf) const {
    p->topic = m_.topic();
    p->payload = m_.payload();
    p->qos = qos;
    p->retain = retain;
    p->packet_id = qos == mqtt::Qos::k0 ? 0 : 1;
    if (!mqtt::IsV5(v)) {
      return;
    }
    p->properties.encoded_extra = m_.forward_properties();
    if (m_.expiry_deadline_ms() != 0) {
      // What is left of the lifetime [MQTT-3.3.2-6].
      p->properties.SetMessageExpiryInterval(m_.RemainingExpiryS(now_ms_));
    }
    if (!ids.empty()) {
      sub_buf->resize(ids.size() * (1 + mqtt::VarintSize(mqtt::kMaxVarint)));
      uint8_t* out = reinterpret_cast<uint8_t*>(sub_buf->data());
      uint8_t* end = out;
      for (uint32_t id : ids) {
        *end++ = static_cast<uint8_t>(mqtt::PropertyId::kSubscriptionIdentifier);
        end = mqtt::EncodeVarint(end, id);
      }
      sub_buf->resize(static_cast<size_t>(end - out));
      p->properties.subscription_ids = mqtt::SubscriptionIdList(*sub_buf);
    }
  }

 private:
  const Message& m_;
  const int64_t now_ms_;
  absl::InlinedVector<Variant, 2> variants_;
};

}  // namespace ringmq::broker
