// SubscriptionTrie: topic filters matched against topic names. Shard-local (each shard has
// one: its own filters and the other shards' filters with wildcards; see router.h).
//
// One node per level of a filter; a filter's own node holds its value (FilterNode::shards
// and FilterNode::extra). "+" and "#" are nodes too, reached through the node's wildcard
// children, so matching a topic walks its levels once, branching into "+" and taking "#"
// nodes on the way: the cost follows the topic's depth and the wildcard branches, not the
// number of filters. [MQTT-4.7.2-1]: a topic starting with '$' is not matched by a wildcard
// at the first level. "a/#" also matches "a" [MQTT-4.7.1-2].
//
// Memory is what bounds how many subscriptions a broker holds, so a node is one allocation
// of 40 bytes plus its level name, and a parent pointer (to prune and to spell its filter
// again) stands in for a stored filter string; children are a tagged pointer (none, one
// child, or a set of children hashed by name), "+" and "#" children are children like the
// others, flagged so that matching looks them up only where they exist. Nodes left without
// value and children are freed at once (Prune). Match recurses once per level, bounded by
// BrokerConfig::max_topic_levels; nothing else recurses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"

#include "core/mqtt/topic.h"
#include "core/mqtt/types.h"

namespace ringmq::broker {

class Session;
struct SharedGroup;

// One subscriber: a local session, its options and Subscription Identifier.
struct Subscriber {
  Session* session = nullptr;
  mqtt::SubscriptionOptions options;
  uint32_t subscription_id = 0;
};

// What a filter's node holds beyond the replicated shard bits, allocated only on the shard
// with subscribers: those subscribers. 32 bytes; the shared groups of a filter, rarer, are
// kept by the Router beside the trie (the node is only flagged `grouped`).
struct FilterNodeExtra {
  absl::InlinedVector<Subscriber, 1> local;
  uint64_t announced_seq = 0;  // the interest update that announced `local` (0 <-> 1)
  bool empty() const { return local.empty(); }
};

class FilterNode {
 public:
  // Shards with plain subscribers of this filter (bit per shard; replicated on every shard).
  uint64_t shards = 0;
  // This shard's subscribers and the shared groups of this filter; null when none.
  std::unique_ptr<FilterNodeExtra> extra;

  std::string_view name() const {
    return {reinterpret_cast<const char*>(this + 1), name_len_};  // stored right after the node
  }
  FilterNode* parent() const { return parent_; }
  // Shared groups with this filter exist (the Router holds them).
  bool grouped() const { return (flags_ & kGrouped) != 0; }
  void set_grouped(bool g) { flags_ = g ? (flags_ | kGrouped) : (flags_ & ~kGrouped); }
  // A value is here (what Match reports).
  bool has_value() const { return shards != 0 || extra != nullptr || grouped(); }

 private:
  friend class SubscriptionTrie;
  enum Flags : uint8_t { kHasPlus = 1, kHasHash = 2, kGrouped = 4 };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
    size_t operator()(const FilterNode* n) const { return (*this)(n->name()); }
  };
  struct NameEq {
    using is_transparent = void;
    static std::string_view Key(std::string_view s) { return s; }
    static std::string_view Key(const FilterNode* n) { return n->name(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Key(a) == Key(b);
    }
  };
  using ChildSet = absl::flat_hash_set<FilterNode*, NameHash, NameEq>;

  FilterNode(FilterNode* parent, std::string_view name);
  ~FilterNode();

  // Children: 0, a FilterNode* (bit 0 clear), or a ChildSet* (bit 0 set).
  FilterNode* Child(std::string_view name) const;
  void AddChild(FilterNode* c);
  void RemoveChild(FilterNode* c);
  bool has_children() const { return children_ != 0; }
  FilterNode* Plus() const { return (flags_ & kHasPlus) != 0 ? Child("+") : nullptr; }
  FilterNode* Hash() const { return (flags_ & kHasHash) != 0 ? Child("#") : nullptr; }
  template <typename F>
  void ForEachChild(F&& f) const;

  FilterNode* parent_;
  uintptr_t children_ = 0;
  uint32_t name_len_;  // the name's bytes follow the node in the same allocation
  uint8_t flags_ = 0;
};

class SubscriptionTrie {
 public:
  SubscriptionTrie();
  ~SubscriptionTrie();
  SubscriptionTrie(const SubscriptionTrie&) = delete;
  SubscriptionTrie& operator=(const SubscriptionTrie&) = delete;

  // The node of `filter` (a valid, non-shared filter), created with its path if missing.
  FilterNode* Insert(std::string_view filter);
  // The node of `filter`, or nullptr.
  FilterNode* Find(std::string_view filter) const;
  // Frees `n` if it has no value and no children, then each ancestor left so.
  void Prune(FilterNode* n);
  // Calls f(FilterNode&) for every filter (node with a value) matching `topic`.
  template <typename F>
  void Match(std::string_view topic, F&& f) const {
    const bool dollar = !topic.empty() && topic[0] == '$';
    MatchAt(root_, topic, 0, /*first=*/true, dollar, f);
  }
  // The filter a node stands for.
  static std::string FilterOf(const FilterNode* n);

  bool empty() const { return !root_->has_children(); }
  size_t nodes() const { return nodes_; }

 private:
  static FilterNode* NewNode(FilterNode* parent, std::string_view name);
  static void FreeNode(FilterNode* n);
  static void FreeTree(FilterNode* n);
  FilterNode* Step(FilterNode* n, std::string_view level, bool create);

  template <typename F>
  static void MatchAt(const FilterNode* n, std::string_view topic, size_t pos, bool first,
                      bool dollar, F& f);

  FilterNode* root_;
  size_t nodes_ = 0;
};

template <typename F>
void FilterNode::ForEachChild(F&& f) const {
  if ((children_ & 1) != 0) {
    for (FilterNode* c : *reinterpret_cast<const ChildSet*>(children_ & ~uintptr_t{1})) {
      f(c);
    }
  } else if (children_ != 0) {
    f(reinterpret_cast<FilterNode*>(children_));
  }
}

template <typename F>
void SubscriptionTrie::MatchAt(const FilterNode* n, std::string_view topic, size_t pos, bool first,
                               bool dollar, F& f) {
  // `pos` is the start of the next level; npos means the topic is used up.
  const bool wildcards = !(first && dollar);
  if (pos == std::string_view::npos) {
    if (n->has_value()) {
      f(*const_cast<FilterNode*>(n));
    }
    if (const FilterNode* hash = n->Hash(); hash != nullptr && hash->has_value()) {
      f(*const_cast<FilterNode*>(hash));  // "a/#" matches "a"
    }
    return;
  }
  if (wildcards) {
    if (const FilterNode* hash = n->Hash(); hash != nullptr && hash->has_value()) {
      f(*const_cast<FilterNode*>(hash));
    }
  }
  size_t next;
  const std::string_view level = mqtt::LevelAt(topic, pos, &next);
  if (const FilterNode* c = n->Child(level)) {
    MatchAt(c, topic, next, false, dollar, f);  // a topic level is never "+" or "#"
  }
  if (wildcards) {
    if (const FilterNode* plus = n->Plus()) {
      MatchAt(plus, topic, next, false, dollar, f);
    }
  }
}

}  // namespace ringmq::broker
