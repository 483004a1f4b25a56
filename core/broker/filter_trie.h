// FilterTrie<V>: topic filters -> values, matched against topic names. Shard-local.
//
// One node per level. A node has literal children, a '+' child, a value for filters ending
// at it, and a value for filters ending with '#' right below it ("a/#" lives at node "a":
// it matches "a" itself and everything under it). Matching walks the topic's levels once,
// branching into '+' and collecting '#' values on the way, so its cost follows the topic's
// depth and the number of wildcard branches, not the number of filters.
// [MQTT-4.7.2-1]: a topic starting with '$' is not matched by '+' or '#' at the first level.
//
// Used for the local subscription trie, the local shared-subscription trie, and the
// replicated interest trie (filter -> shards). V is any default-constructible type; the trie
// removes a node when it holds no value and no children (the caller says when a value has
// become empty by calling Erase).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"

#include "core/base/strings.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

template <typename V>
class FilterTrie {
 public:
  // The value for `filter` (a valid, non-shared filter), created if missing.
  V& Insert(std::string_view filter) {
    std::unique_ptr<V>* slot = Slot(filter, /*create=*/true);
    if (!*slot) {
      *slot = std::make_unique<V>();
    }
    return **slot;
  }

  // The value for `filter`, or nullptr.
  V* Find(std::string_view filter) {
    std::unique_ptr<V>* slot = Slot(filter, /*create=*/false);
    return slot == nullptr ? nullptr : slot->get();
  }

  // Removes the value for `filter` and prunes nodes left empty.
  void Erase(std::string_view filter) { EraseAt(&root_, filter, 0); }

  // Calls f(V&) for every filter matching `topic` (a valid topic name).
  template <typename F>
  void Match(std::string_view topic, F&& f) {
    const bool dollar = !topic.empty() && topic[0] == '$';
    MatchAt(&root_, topic, 0, /*first=*/true, dollar, f);
  }

  // Calls f(filter, V&) for every stored value (for debugging and stats).
  template <typename F>
  void ForEach(F&& f) {
    std::string path;
    ForEachAt(&root_, &path, /*root=*/true, f);
  }

  bool empty() const { return root_.Empty(); }

 private:
  struct Node {
    absl::flat_hash_map<std::string, std::unique_ptr<Node>> children;
    std::unique_ptr<Node> plus;
    std::unique_ptr<V> value;
    std::unique_ptr<V> hash;
    bool Empty() const { return children.empty() && !plus && !value && !hash; }
  };

  static Node* Child(Node* n, std::string_view level, bool create) {
    if (level == "+") {
      if (!n->plus && create) {
        n->plus = std::make_unique<Node>();
      }
      return n->plus.get();
    }
    auto it = n->children.find(base::ToAbsl(level));
    if (it != n->children.end()) {
      return it->second.get();
    }
    if (!create) {
      return nullptr;
    }
    auto [ins, ok] = n->children.emplace(std::string(level), std::make_unique<Node>());
    return ins->second.get();
  }

  // Where the value of `filter` lives: the node's `hash` slot for a trailing "#", else its
  // `value` slot. Without `create`, nullptr when the path does not exist.
  std::unique_ptr<V>* Slot(std::string_view filter, bool create) {
    Node* n = &root_;
    size_t pos = 0;
    for (;;) {
      size_t next;
      std::string_view level = mqtt::LevelAt(filter, pos, &next);
      if (level == "#") {
        return &n->hash;
      }
      n = Child(n, level, create);
      if (n == nullptr) {
        return nullptr;
      }
      if (next == std::string_view::npos) {
        return &n->value;
      }
      pos = next;
    }
  }

  // Returns true if `n` became empty (the caller removes it).
  static bool EraseAt(Node* n, std::string_view filter, size_t pos) {
    size_t next;
    std::string_view level = mqtt::LevelAt(filter, pos, &next);
    if (level == "#") {
      n->hash.reset();
      return n->Empty();
    }
    Node* child = Child(n, level, /*create=*/false);
    if (child == nullptr) {
      return false;
    }
    bool child_empty;
    if (next == std::string_view::npos) {
      child->value.reset();
      child_empty = child->Empty();
    } else {
      child_empty = EraseAt(child, filter, next);
    }
    if (child_empty) {
      if (level == "+") {
        n->plus.reset();
      } else {
        n->children.erase(base::ToAbsl(level));
      }
    }
    return n->Empty();
  }

  template <typename F>
  static void MatchAt(Node* n, std::string_view topic, size_t pos, bool first, bool dollar, F& f) {
    // `pos` is the start of the next level; npos means the topic is used up.
    if (pos == std::string_view::npos) {
      if (n->value) {
        f(*n->value);
      }
      if (n->hash) {
        f(*n->hash);  // "a/#" matches "a"
      }
      return;
    }
    const bool wildcards = !(first && dollar);
    if (n->hash && wildcards) {
      f(*n->hash);
    }
    size_t next;
    std::string_view level = mqtt::LevelAt(topic, pos, &next);
    if (!n->children.empty()) {
      auto it = n->children.find(base::ToAbsl(level));
      if (it != n->children.end()) {
        MatchAt(it->second.get(), topic, next, false, dollar, f);
      }
    }
    if (n->plus && wildcards) {
      MatchAt(n->plus.get(), topic, next, false, dollar, f);
    }
  }

  // Depth-first walk rebuilding each filter in `path`.
  template <typename F>
  static void ForEachAt(Node* n, std::string* path, bool root, F& f) {
    const size_t len = path->size();
    auto enter = [&](std::string_view level) {
      if (!root) {
        path->push_back('/');
      }
      path->append(level);
    };
    if (n->hash) {
      enter("#");
      f(std::string_view(*path), *n->hash);
      path->resize(len);
    }
    auto descend = [&](std::string_view level, Node* child) {
      enter(level);
      if (child->value) {
        f(std::string_view(*path), *child->value);
      }
      ForEachAt(child, path, /*root=*/false, f);
      path->resize(len);
    };
    for (auto& [level, child] : n->children) {
      descend(level, child.get());
    }
    if (n->plus) {
      descend("+", n->plus.get());
    }
  }

  Node root_;
};

}  // namespace ringmq::broker
