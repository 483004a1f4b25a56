#include "core/broker/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

#include "core/base/asserts.h"
#include "core/base/strings.h"
#include "core/broker/session.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

uint32_t SharedGroup::LocalOnline() const {
  uint32_t n = 0;
  for (const Subscriber& m : local) {
    n += m.session->connection != nullptr;
  }
  return n;
}

Router::Router(uint32_t shard_index, uint32_t shards)
    : ShardOwned(shard_index), self_(shard_index), shards_(shards) {}

void Router::MatchTopic(std::string_view topic, Match* out, std::vector<Subscriber>* local) {
  AssertOnOwnShard();
  if (!exact_.empty()) {  // always empty with one shard: no hashing then
    out->shards |= exact_.Shards(topic);
  }
  trie_.Match(topic, [&](FilterNode& n) {
    out->shards |= n.shards;
    if (n.extra != nullptr) {
      local->insert(local->end(), n.extra->local.begin(), n.extra->local.end());
    }
    if (n.grouped()) {
      for (SharedGroup* g : node_groups_.at(&n)) {
        if (g->total > 0) {
          out->shared.push_back({g, PickShard(*g)});
        }
      }
    }
  });
}

void Router::MatchLocal(std::string_view topic, std::vector<Subscriber>* local) {
  AssertOnOwnShard();
  trie_.Match(topic, [&](FilterNode& n) {
    if (n.extra != nullptr) {
      local->insert(local->end(), n.extra->local.begin(), n.extra->local.end());
    }
  });
}

FilterNodeExtra& Router::Extra(FilterNode* n) {
  if (n->extra == nullptr) {
    n->extra = std::make_unique<FilterNodeExtra>();
  }
  return *n->extra;
}

void Router::Tidy(FilterNode* n) {
  if (n->extra != nullptr && n->extra->empty()) {
    n->extra.reset();
  }
  trie_.Prune(n);
}

SubRef Router::FindRef(std::string_view filter) const {
  if (mqtt::IsSharedFilter(filter)) {
    mqtt::SharedFilter sf;
    if (mqtt::ParseSharedFilter(filter, &sf) != mqtt::TopicError::kOk) {
      return {};
    }
    SharedGroup* g = FindGroup({sf.share_name, sf.filter});
    return g == nullptr ? SubRef() : SubRef::Shared(g);
  }
  FilterNode* n = trie_.Find(filter);
  return n == nullptr ? SubRef() : SubRef::Plain(n);
}

std::string Router::FilterOf(SubRef r) {
  if (r.shared()) {
    const SharedGroupKey& k = *r.group()->key;
    return absl::StrCat("$share/", base::ToAbsl(k.share_name()), "/", base::ToAbsl(k.filter()));
  }
  return SubscriptionTrie::FilterOf(r.node());
}

SharedGroup& Router::Group(const SharedGroupName& name) {
  auto it = groups_.find(name);
  if (it != groups_.end()) {
    return *it->second;
  }
  auto g = std::make_unique<SharedGroup>();
  g->key = SharedGroupKeyRef::Make(name.share_name, name.filter);
  g->members.assign(shards_, 0);
  g->online.assign(shards_, 0);
  SharedGroup* raw = g.get();
  groups_.emplace(SharedGroupName{g->key->share_name(), g->key->filter()}, std::move(g));
  FilterNode* n = Node(raw->key->filter());
  node_groups_[n].push_back(raw);
  n->set_grouped(true);
  return *raw;
}

SharedGroup* Router::FindGroup(const SharedGroupName& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : it->second.get();
}

void Router::EraseGroupIfEmpty(SharedGroup& g) {
  if (g.total > 0 || !g.local.empty()) {
    return;
  }
  const SharedGroupKeyRef key = g.key;  // keeps the text alive until the end
  FilterNode* n = trie_.Find(key->filter());
  if (n != nullptr && n->grouped()) {
    auto it = node_groups_.find(n);
    RINGMQ_DASSERT(it != node_groups_.end());
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), &g), v.end());
    if (v.empty()) {
      node_groups_.erase(it);
      n->set_grouped(false);
    }
  }
  groups_.erase(SharedGroupName{key->share_name(), key->filter()});
  if (n != nullptr) {
    Tidy(n);
  }
}

void Router::ApplyInterest(uint32_t from_shard, const InterestUpdate& u) {
  AssertOnOwnShard();
  RINGMQ_DASSERT(from_shard < shards_);
  if (u.share_name.empty()) {
    if (from_shard != self_ && !mqtt::HasWildcard(u.filter)) {
      exact_.Apply(ExactInterest::Hash(u.filter), from_shard, u.count != 0);
      return;
    }
    FilterNode* n = u.count != 0 ? Node(u.filter) : trie_.Find(u.filter);
    if (n == nullptr) {
      return;
    }
    const uint64_t bit = uint64_t{1} << from_shard;
    n->shards = u.count != 0 ? (n->shards | bit) : (n->shards & ~bit);
    Tidy(n);
    return;
  }
  SharedGroup& g = Group(SharedGroupName{u.share_name, u.filter});
  g.total = g.total - g.members[from_shard] + u.count;
  g.members[from_shard] = u.count;
  g.total_online = g.total_online - g.online[from_shard] + u.online;
  g.online[from_shard] = u.online;
  EraseGroupIfEmpty(g);
}

uint32_t Router::PickShard(SharedGroup& g, uint32_t exclude_local) {
  const bool by_online = g.total_online > 0;
  auto members = [&](uint32_t s) {
    if (by_online) {
      return g.online[s];
    }
    const uint32_t n = g.members[s];
    return s == self_ ? n - std::min(n, exclude_local) : n;
  };
  const uint64_t total =
      by_online ? g.total_online : g.total - std::min(g.members[self_], exclude_local);
  if (total == 0) {
    return self_;
  }
  uint64_t k = g.next_shard++ % total;
  for (uint32_t s = 0; s < shards_; ++s) {
    if (k < members(s)) {
      return s;
    }
    k -= members(s);
  }
  return self_;
}

Subscriber* Router::PickMember(SharedGroup& g, const Session* avoid, bool avoid_ending) {
  const size_t size = g.local.size();
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < size; ++k) {
      const size_t idx = (g.next_local + k) % size;
      Subscriber& sub = g.local[idx];
      if (sub.session == avoid) {
        continue;
      }
      if (pass == 1 || sub.session->connection != nullptr) {
        g.next_local = static_cast<uint32_t>(idx + 1);
        return &sub;
      }
    }
  }
  if (avoid != nullptr && !avoid_ending) {
    for (Subscriber& sub : g.local) {
      if (sub.session == avoid) {
        return &sub;
      }
    }
  }
  return nullptr;
}

}  // namespace ringmq::broker
