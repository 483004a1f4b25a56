// ResponseQueue: one connection's acknowledgements (CONNACK, PUBACK, PUBREC, PUBCOMP, SUBACK,
// UNSUBACK) in the order of the packets they answer [MQTT-4.6.0-2/3]. Shard-local.
//
// An entry may wait for asynchronous parts (`waiting`): a decision (authentication, ACL),
// remote shards reporting delivery of a QoS 1/2 message, other shards applying a new
// subscription's interest, the store committing. Entries leave from the front only, each once
// it waits for nothing, so a fast answer never overtakes a slow one. Each entry has a token
// that names it to those completions (BrokerShard keeps token -> connection; responses.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"

#include "core/base/ring_queue.h"
#include "core/broker/message.h"
#include "core/mqtt/reason_code.h"
#include "core/mqtt/types.h"

namespace ringmq::broker {

// A SUBSCRIBE accepted for processing but not applied yet: it waits for its authorization.
struct PendingSubscribe {
  struct Entry {
    std::string filter;
    mqtt::SubscriptionOptions options;
    mqtt::ReasonCode denied = mqtt::ReasonCode::kSuccess;  // refused by the decision: why
  };
  std::vector<Entry> entries;
  uint32_t subscription_id = 0;
};

struct PendingResponse {
  // kNone answers nothing: it keeps the place of a QoS 0 PUBLISH that waits for its decision.
  enum class Kind : uint8_t {
    kConnack,
    kPuback,
    kPubrec,
    kPubrel,  // to the client's PUBREC of a message the broker sent
    kPubcomp,
    kSuback,
    kUnsuback,
    kNone
  };
  Kind kind = Kind::kPuback;
  uint16_t packet_id = 0;
  uint32_t waiting = 0;  // asynchronous parts still outstanding
  uint64_t token = 0;    // identifies this entry to asynchronous completions
  mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;
  bool denied = false;  // a decision refused what this answers (`reason` says why)
  // Delivery reports (PUBACK/PUBREC): how many subscribers took the message and how many
  // could not (their queue was full).
  uint32_t delivered = 0;
  uint32_t refused = 0;
  // A persistent session could not keep it (the store refused): never a success.
  bool unstored = false;
  bool refused_unwritten = false;  // ... refused before anything of it was written
  // kNone: the store barrier of a resumed persistent session (AwaitResumeBarrier).
  bool resume = false;
  // SUBACK/UNSUBACK: one code per filter.
  absl::InlinedVector<mqtt::ReasonCode, 4> codes;
  // SUBACK: the subscriptions to apply once authorized (null once applied), and the
  // retained messages to send once the SUBACK has gone out.
  std::unique_ptr<PendingSubscribe> subscribe;
  uint64_t retained_request = 0;
  // PUBLISH: the message, routed once its decision allows it (null once routed).
  MessageRef message;
};

class ResponseQueue {
 public:
  PendingResponse& Add(PendingResponse::Kind kind, uint16_t packet_id, uint64_t token) {
    PendingResponse& r = q_.emplace_back();
    r.kind = kind;
    r.packet_id = packet_id;
    r.token = token;
    return r;
  }
  // The entry with `token`, or nullptr.
  PendingResponse* Find(uint64_t token) {
    for (size_t i = 0; i < q_.size(); ++i) {
      if (q_[i].token == token) {
        return &q_[i];
      }
    }
    return nullptr;
  }
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }
  PendingResponse& front() { return q_.front(); }
  PendingResponse& operator[](size_t i) { return q_[i]; }
  void pop_front() { q_.pop_front(); }
  void clear() { q_.clear(); }

 private:
  base::RingQueue<PendingResponse> q_;
};

}  // namespace ringmq::broker
