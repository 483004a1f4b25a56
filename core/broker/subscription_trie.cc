#include "core/broker/subscription_trie.h"

#include <cstring>
#include <new>

#include "absl/hash/hash.h"

#include "core/base/asserts.h"
#include "core/base/strings.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

size_t FilterNode::NameHash::operator()(std::string_view s) const {
  return absl::Hash<absl::string_view>{}(base::ToAbsl(s));
}

FilterNode::FilterNode(FilterNode* parent, std::string_view name)
    : parent_(parent), name_len_(static_cast<uint32_t>(name.size())) {
  if (!name.empty()) {
    std::memcpy(reinterpret_cast<char*>(this + 1), name.data(), name.size());
  }
}

FilterNode::~FilterNode() {
  if ((children_ & 1) != 0) {
    delete reinterpret_cast<ChildSet*>(children_ & ~uintptr_t{1});
  }
}

FilterNode* FilterNode::Child(std::string_view name) const {
  if ((children_ & 1) != 0) {
    const auto* set = reinterpret_cast<const ChildSet*>(children_ & ~uintptr_t{1});
    auto it = set->find(name);
    return it == set->end() ? nullptr : *it;
  }
  auto* only = reinterpret_cast<FilterNode*>(children_);
  return only != nullptr && only->name() == name ? only : nullptr;
}

void FilterNode::AddChild(FilterNode* c) {
  if (children_ == 0) {
    children_ = reinterpret_cast<uintptr_t>(c);
    return;
  }
  if ((children_ & 1) == 0) {
    auto* set = new ChildSet();
    set->insert(reinterpret_cast<FilterNode*>(children_));
    children_ = reinterpret_cast<uintptr_t>(set) | 1;
  }
  reinterpret_cast<ChildSet*>(children_ & ~uintptr_t{1})->insert(c);
}

void FilterNode::RemoveChild(FilterNode* c) {
  if ((children_ & 1) == 0) {
    RINGMQ_DASSERT(children_ == reinterpret_cast<uintptr_t>(c));
    children_ = 0;
    return;
  }
  auto* set = reinterpret_cast<ChildSet*>(children_ & ~uintptr_t{1});
  set->erase(c);
  if (set->size() == 1) {
    // Back to the inline form: a set costs more than its one child.
    FilterNode* last = *set->begin();
    delete set;
    children_ = reinterpret_cast<uintptr_t>(last);
  }
}

SubscriptionTrie::SubscriptionTrie() : root_(NewNode(nullptr, {})) {}

SubscriptionTrie::~SubscriptionTrie() {
  FreeTree(root_);
}

FilterNode* SubscriptionTrie::NewNode(FilterNode* parent, std::string_view name) {
  void* mem = ::operator new(sizeof(FilterNode) + name.size());
  return new (mem) FilterNode(parent, name);
}

void SubscriptionTrie::FreeNode(FilterNode* n) {
  n->~FilterNode();
  ::operator delete(n);
}

void SubscriptionTrie::FreeTree(FilterNode* n) {
  std::vector<FilterNode*> stack = {n};  // no recursion: the depth is the client's to choose
  while (!stack.empty()) {
    FilterNode* x = stack.back();
    stack.pop_back();
    x->ForEachChild([&stack](FilterNode* c) { stack.push_back(c); });
    FreeNode(x);
  }
}

FilterNode* SubscriptionTrie::Step(FilterNode* n, std::string_view level, bool create) {
  if (FilterNode* c = n->Child(level)) {
    return c;
  }
  if (!create) {
    return nullptr;
  }
  FilterNode* c = NewNode(n, level);
  n->AddChild(c);
  n->flags_ |= level == "+" ? FilterNode::kHasPlus : level == "#" ? FilterNode::kHasHash : 0;
  ++nodes_;
  return c;
}

FilterNode* SubscriptionTrie::Insert(std::string_view filter) {
  FilterNode* n = root_;
  for (size_t pos = 0; pos != std::string_view::npos;) {
    size_t next;
    n = Step(n, mqtt::LevelAt(filter, pos, &next), /*create=*/true);
    pos = next;
  }
  return n;
}

FilterNode* SubscriptionTrie::Find(std::string_view filter) const {
  FilterNode* n = root_;
  for (size_t pos = 0; pos != std::string_view::npos && n != nullptr;) {
    size_t next;
    n = const_cast<SubscriptionTrie*>(this)->Step(n, mqtt::LevelAt(filter, pos, &next),
                                                  /*create=*/false);
    pos = next;
  }
  return n;
}

void SubscriptionTrie::Prune(FilterNode* n) {
  while (n != root_ && !n->has_value() && !n->has_children()) {
    FilterNode* parent = n->parent_;
    const std::string_view name = n->name();
    parent->flags_ &= name == "+"   ? ~FilterNode::kHasPlus
                      : name == "#" ? ~FilterNode::kHasHash
                                    : 0xFF;
    parent->RemoveChild(n);
    FreeNode(n);
    --nodes_;
    n = parent;
  }
}

std::string SubscriptionTrie::FilterOf(const FilterNode* n) {
  std::vector<std::string_view> levels;
  for (; n != nullptr && n->parent_ != nullptr; n = n->parent_) {
    levels.push_back(n->name());
  }
  std::string out;
  for (size_t i = levels.size(); i-- > 0;) {
    out.append(levels[i]);
    if (i > 0) {
      out.push_back('/');
    }
  }
  return out;
}

}  // namespace ringmq::broker
