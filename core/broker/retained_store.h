// RetainedStore: this shard's partition of the retained messages (topic -> message), with
// matching of a subscription's filter against the stored topics. Shard-local.
//
// Partitioning: a topic's retained message lives on shard hash(topic) mod N (RetainShard), so
// storing is one message to one shard; a subscription with wildcards asks every shard
// (scatter) and gathers the answers, an exact filter asks one.
//
// Bounds: at most `max_count` messages and `max_bytes` bytes (Message::footprint) in this
// partition; a set beyond them is refused and the old value stays. $SYS topics (the broker's
// own, which clients cannot publish) are kept but not counted against the bounds. Messages with a
// Message Expiry Interval are removed when it passes [MQTT-3.3.2-5], by SweepExpired (a periodic
// timer; it pops a deadline heap, so it costs only what expired) and when a match finds them;
// nodes left empty are pruned at once.
#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "core/broker/message.h"

namespace ringmq::broker {

class RetainedStore {
 public:
  struct Limits {
    size_t max_count = SIZE_MAX;
    size_t max_bytes = SIZE_MAX;
  };
  RetainedStore() = default;
  explicit RetainedStore(const Limits& limits) : limits_(limits) {}
  // One shard's partition: its share of the totals, rounded up.
  static Limits ShareOf(uint64_t max_count, uint64_t max_bytes, uint32_t shards) {
    return {static_cast<size_t>((max_count + shards - 1) / shards),
            static_cast<size_t>((max_bytes + shards - 1) / shards)};
  }
  // New limits (a reload): what is held stays; what comes next obeys them.
  void set_limits(const Limits& limits) { limits_ = limits; }

  enum class SetResult { kStored, kDeleted, kRefused };
  // Stores `m` as the retained message of its topic; an empty payload deletes instead
  // [MQTT-3.3.1-6], [MQTT-3.3.1-7]. Refused beyond the limits.
  SetResult Set(MessageRef m);
  // Appends to *out the live retained messages whose topic matches `filter` (valid,
  // non-shared) [MQTT-3.3.1-9], honouring the '$' rule [MQTT-4.7.2-1].
  void Match(std::string_view filter, int64_t now_ms, std::vector<MessageRef>* out);
  // Removes every message whose expiry has passed; returns how many.
  size_t SweepExpired(int64_t now_ms);

  size_t size() const { return count_; }
  size_t bytes() const { return bytes_; }
  // Trie nodes, the root excluded (tests check that emptied nodes are pruned).
  size_t nodes() const { return nodes_; }

 private:
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    MessageRef message;
    uint64_t set_id = 0;  // which Set() stored `message` (names it in the expiry heap)
  };
  struct Expiry {
    int64_t deadline_ms;
    uint64_t set_id;
    std::string topic;
    bool operator>(const Expiry& o) const { return deadline_ms > o.deadline_ms; }
  };

  // Counts a message in or out of the totals (and the $SYS part of them).
  void Account(const Message& m, int sign);
  Node* Find(std::string_view topic);
  Node* FindOrCreate(std::string_view topic);
  // Removes the message of `topic` (if its set_id matches, when given) and prunes.
  bool Erase(std::string_view topic, uint64_t set_id = 0);
  bool EraseAt(Node* n, std::string_view topic, size_t pos, uint64_t set_id, bool* erased);
  void Collect(Node* n, std::string_view filter, size_t pos, bool first, int64_t now_ms,
               std::vector<MessageRef>* out, std::vector<std::string>* expired);
  void CollectAll(Node* n, bool first, int64_t now_ms, std::vector<MessageRef>* out,
                  std::vector<std::string>* expired);
  void Take(Node* n, int64_t now_ms, std::vector<MessageRef>* out,
            std::vector<std::string>* expired);
  void RebuildExpiryHeap();

  Limits limits_{};
  Node root_;
  size_t count_ = 0;
  size_t bytes_ = 0;
  size_t sys_count_ = 0;  // of count_ and bytes_: $SYS topics (exempt from the limits)
  size_t sys_bytes_ = 0;
  size_t nodes_ = 0;
  size_t expiring_ = 0;  // stored messages with an expiry
  uint64_t next_set_id_ = 0;
  std::priority_queue<Expiry, std::vector<Expiry>, std::greater<Expiry>> expiry_;
};

}  // namespace ringmq::broker
