// Router: which shards and which local sessions a message goes to. Shard-local.
//
// One trie per shard (SubscriptionTrie) holds this shard's filters and the other shards'
// filters with wildcards; a filter's node holds
//   - `shards`: a bit per shard that has plain subscribers of the filter (replicated: every
//     shard that holds the node says the same once the interest updates have been applied,
//     interest.h);
//   - `extra->local`: this shard's own subscribers of the filter, with their options;
//   - `grouped()`: shared groups ($share/<name>/<filter>) with that filter exist; the Router
//     keeps them beside the trie (node_groups_), each with its member counts on every shard
//     and its members on this one.
// The other shards' filters without wildcards are not in the trie but in ExactInterest (a
// hash and a shard mask each, exact_interest.h): a 16-byte slot instead of a ~70-byte node, one
// lookup per message.
// A message is matched once on the shard that received it (MatchTopic: the target shards,
// the shard that takes each shared group's copy, and this shard's subscribers together), and
// once more on each target shard for its own subscribers (MatchLocal). Shared groups are
// found by their text (SharedGroupName), never by a hash.
//
// The router keeps the books only: sending and delivering are the caller's (routing.cc,
// delivery.cc).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"

#include "core/broker/cross_shard.h"
#include "core/broker/exact_interest.h"
#include "core/broker/shared_group_key.h"
#include "core/broker/subscription_trie.h"
#include "core/mqtt/types.h"
#include "core/shard/shard_owned.h"

namespace ringmq::broker {

struct SharedGroup {
  SharedGroupKeyRef key;
  // Replicated: members and connected members per shard.
  std::vector<uint32_t> members;
  std::vector<uint32_t> online;
  uint32_t total = 0;
  uint32_t total_online = 0;
  uint64_t next_shard = 0;  // round robin over the members of every shard
  // This shard's members.
  std::vector<Subscriber> local;
  uint32_t next_local = 0;
  uint32_t announced_online = 0;  // connected local members the other shards were last told of
  uint64_t announced_seq = 0;     // the interest update that told them (interest.h)
  uint32_t LocalOnline() const;
};

// A subscription of a session, as the session keeps it: the node of its filter (plain) or
// its shared group, in one tagged word. The options live with the subscriber entry here.
class SubRef {
 public:
  SubRef() = default;
  static SubRef Plain(FilterNode* n) { return SubRef(reinterpret_cast<uintptr_t>(n)); }
  static SubRef Shared(SharedGroup* g) { return SubRef(reinterpret_cast<uintptr_t>(g) | 1); }
  static SubRef FromBits(uintptr_t v) { return SubRef(v); }
  bool shared() const { return (v_ & 1) != 0; }
  FilterNode* node() const { return reinterpret_cast<FilterNode*>(v_); }
  SharedGroup* group() const { return reinterpret_cast<SharedGroup*>(v_ & ~uintptr_t{1}); }
  uintptr_t bits() const { return v_; }
  explicit operator bool() const { return v_ != 0; }

 private:
  explicit SubRef(uintptr_t v) : v_(v) {}
  uintptr_t v_ = 0;
};

class Router : public shard::ShardOwned {
 public:
  Router(uint32_t shard_index, uint32_t shards);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // ---- matching ------------------------------------------------------------------------------
  struct SharedPick {
    SharedGroup* group;
    uint32_t shard;  // the shard whose member takes this message
  };
  struct Match {
    uint64_t shards = 0;  // shards with plain subscribers (this one included)
    absl::InlinedVector<SharedPick, 2> shared;
  };
  // One walk: fills *out and appends this shard's plain subscribers to *local.
  void MatchTopic(std::string_view topic, Match* out, std::vector<Subscriber>* local);
  // This shard's plain subscribers of `topic` only.
  void MatchLocal(std::string_view topic, std::vector<Subscriber>* local);

  // ---- this shard's subscribers ------------------------------------------------------------
  // The node of `filter`, created if missing.
  FilterNode* Node(std::string_view filter) { return trie_.Insert(filter); }
  FilterNode* FindNode(std::string_view filter) const { return trie_.Find(filter); }
  // The node's extra part (this shard's subscribers, the groups), created if missing.
  static FilterNodeExtra& Extra(FilterNode* n);
  // Drops what is left empty in `n`: its extra part, then the node and its empty ancestors.
  void Tidy(FilterNode* n);
  // The subscription `filter` names (plain or shared), if it exists on this shard.
  SubRef FindRef(std::string_view filter) const;
  // The filter a subscription stands for ("$share/<name>/<filter>" for a group).
  static std::string FilterOf(SubRef r);

  // The group for `name`, created (with its key and per-shard counts) if missing.
  SharedGroup& Group(const SharedGroupName& name);
  SharedGroup* FindGroup(const SharedGroupName& name) const;
  // Drops `g` if it has no member on any shard.
  void EraseGroupIfEmpty(SharedGroup& g);

  // ---- interest from every shard (replicated) -------------------------------------------------
  void ApplyInterest(uint32_t from_shard, const InterestUpdate& u);

  // ---- shared groups --------------------------------------------------------------------------
  // The shard whose member gets the next message of `g`: round robin over the connected
  // members of every shard (so a shard gets a share proportional to them), or over all
  // members when none is connected. `exclude_local` of this shard's members do not count.
  uint32_t PickShard(SharedGroup& g, uint32_t exclude_local = 0);
  // A local member for the next message: a connected one first (round robin), else one that
  // is away but keeps its session; `avoid` only if it is the only one and not ending.
  Subscriber* PickMember(SharedGroup& g, const Session* avoid, bool avoid_ending);

  size_t groups() const { return groups_.size(); }
  bool empty() const { return trie_.empty() && exact_.empty() && groups_.empty(); }
  size_t nodes() const { return trie_.nodes(); }
  size_t exact_filters() const { return exact_.size(); }  // distinct hashes, in fact

 private:
  const uint32_t self_;
  const uint32_t shards_;
  SubscriptionTrie trie_;
  ExactInterest exact_;  // the other shards' filters without wildcards
  // Every shared group any shard has members in, by its text; the key views point into the
  // group's own SharedGroupKey.
  absl::flat_hash_map<SharedGroupName, std::unique_ptr<SharedGroup>> groups_;
  // The groups of each flagged (`grouped()`) node: apart from the node, so that the many
  // filters without a group do not pay for a pointer to them.
  absl::flat_hash_map<const FilterNode*, absl::InlinedVector<SharedGroup*, 1>> node_groups_;
};

}  // namespace ringmq::broker
