// RetainedStore: this shard's partition of the retained messages (topic -> message), with
// matching of a subscription's filter against the stored topics. Shard-local.
//
// Partitioning: a topic's retained message lives on shard hash(topic) mod N, so storing is a
// single message to one shard; a subscription with wildcards asks every shard (scatter) and
// gathers the answers, an exact filter asks one.
// Messages whose expiry has passed are dropped when found.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/broker/message.h"

namespace ringmq::broker {

class RetainedStore {
 public:
  // Stores `m` as the retained message of its topic; an empty payload deletes instead
  // [MQTT-3.3.1-6], [MQTT-3.3.1-7].
  void Set(MessageRef m);
  // Appends to *out the live retained messages whose topic matches `filter` (valid,
  // non-shared) [MQTT-3.3.1-9], honouring the '$' rule [MQTT-4.7.2-1].
  void Match(std::string_view filter, int64_t now_ms, std::vector<MessageRef>* out);
  size_t size() const { return count_; }

 private:
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    MessageRef message;
  };
  void Collect(Node* n, std::string_view filter, size_t pos, bool first, int64_t now_ms,
               std::vector<MessageRef>* out);
  void CollectAll(Node* n, bool first, int64_t now_ms, std::vector<MessageRef>* out);
  bool Take(Node* n, int64_t now_ms, std::vector<MessageRef>* out);
  bool EraseAt(Node* n, std::string_view topic, size_t pos);

  Node root_;
  size_t count_ = 0;
};

}  // namespace ringmq::broker
