#include "core/broker/message.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/base/asserts.h"

namespace ringmq::broker {

MessageRef Message::Create(const MessageInit& init) {
  const size_t extra = init.topic.size() + init.payload.size() + init.forward_properties.size() +
                       init.publisher_id.size();
  void* mem = std::malloc(sizeof(Message) + extra);
  RINGMQ_ASSERT(mem != nullptr);
  auto* m = new (mem) Message();
  m->topic_len_ = static_cast<uint32_t>(init.topic.size());
  m->payload_len_ = static_cast<uint32_t>(init.payload.size());
  m->props_len_ = static_cast<uint32_t>(init.forward_properties.size());
  m->publisher_len_ = static_cast<uint32_t>(init.publisher_id.size());
  m->expiry_deadline_ms_ = init.expiry_deadline_ms;
  m->id_ = init.id;
  m->qos_ = init.qos;
  m->retain_ = init.retain;
  m->store_refused_ = init.store_refused;
  char* p = reinterpret_cast<char*>(m + 1);
  for (std::string_view part :
       {init.topic, init.payload, init.forward_properties, init.publisher_id}) {
    if (!part.empty()) {
      std::memcpy(p, part.data(), part.size());
    }
    p += part.size();
  }
  return MessageRef::Adopt(m);
}

uint32_t Message::RemainingExpiryS(int64_t now_ms) const {
  int64_t left_ms = expiry_deadline_ms_ - now_ms;
  if (left_ms <= 0) {
    return 0;
  }
  return static_cast<uint32_t>((left_ms + 999) / 1000);
}

void Message::Unref() const {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    this->~Message();
    std::free(const_cast<Message*>(this));
  }
}

}  // namespace ringmq::broker
