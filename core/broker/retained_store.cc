#include "core/broker/retained_store.h"

#include "core/base/strings.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

using mqtt::LevelAt;

RetainedStore::Node* RetainedStore::Find(std::string_view topic) {
  Node* n = &root_;
  for (size_t pos = 0; pos != std::string_view::npos && n != nullptr;) {
    size_t next;
    std::string_view level = LevelAt(topic, pos, &next);
    auto it = n->children.find(base::ToAbsl(level));
    n = it == n->children.end() ? nullptr : it->second.get();
    pos = next;
  }
  return n;
}

RetainedStore::Node* RetainedStore::FindOrCreate(std::string_view topic) {
  Node* n = &root_;
  for (size_t pos = 0; pos != std::string_view::npos;) {
    size_t next;
    std::string_view level = LevelAt(topic, pos, &next);
    auto it = n->children.find(base::ToAbsl(level));
    if (it == n->children.end()) {
      it = n->children.emplace(std::string(level), std::make_unique<Node>()).first;
      ++nodes_;
    }
    n = it->second.get();
    pos = next;
  }
  return n;
}

void RetainedStore::Account(const Message& m, int sign) {
  const bool sys = m.topic().starts_with("$SYS");
  const size_t bytes = m.footprint();
  count_ += sign;
  bytes_ += sign * static_cast<ptrdiff_t>(bytes);
  sys_count_ += sys ? sign : 0;
  sys_bytes_ += sys ? sign * static_cast<ptrdiff_t>(bytes) : 0;
  expiring_ += m.expiry_deadline_ms() != 0 ? sign : 0;
}

RetainedStore::SetResult RetainedStore::Set(MessageRef m) {
  const std::string_view topic = m->topic();
  if (m->payload().empty()) {
    Erase(topic);
    return SetResult::kDeleted;
  }
  Node* existing = Find(topic);
  const bool replaces = existing != nullptr && existing->message;
  if (!topic.starts_with("$SYS")) {
    const size_t old_bytes = replaces ? existing->message->footprint() : 0;
    if ((!replaces && count_ - sys_count_ >= limits_.max_count) ||
        bytes_ - sys_bytes_ - old_bytes + m->footprint() > limits_.max_bytes) {
      return SetResult::kRefused;
    }
  }
  Node* n = existing != nullptr ? existing : FindOrCreate(topic);
  if (replaces) {
    Account(*n->message, -1);
  }
  Account(*m, +1);
  n->set_id = ++next_set_id_;
  if (m->expiry_deadline_ms() != 0) {
    expiry_.push({m->expiry_deadline_ms(), n->set_id, std::string(topic)});
    if (expiry_.size() > 2 * expiring_ + 64) {
      RebuildExpiryHeap();  // replaced messages left stale entries
    }
  }
  n->message = std::move(m);
  return SetResult::kStored;
}

bool RetainedStore::Erase(std::string_view topic, uint64_t set_id) {
  bool erased = false;
  EraseAt(&root_, topic, 0, set_id, &erased);
  return erased;
}

bool RetainedStore::EraseAt(Node* n, std::string_view topic, size_t pos, uint64_t set_id,
                            bool* erased) {
  size_t next;
  std::string_view level = LevelAt(topic, pos, &next);
  auto it = n->children.find(base::ToAbsl(level));
  if (it == n->children.end()) {
    return false;
  }
  Node* child = it->second.get();
  if (next == std::string_view::npos) {
    if (child->message && (set_id == 0 || child->set_id == set_id)) {
      Account(*child->message, -1);
      child->message = MessageRef();
      *erased = true;
    }
  } else {
    EraseAt(child, topic, next, set_id, erased);
  }
  if (!child->message && child->children.empty()) {
    n->children.erase(it);
    --nodes_;
  }
  return true;
}

size_t RetainedStore::SweepExpired(int64_t now_ms) {
  size_t removed = 0;
  while (!expiry_.empty() && expiry_.top().deadline_ms <= now_ms) {
    Expiry e = expiry_.top();
    expiry_.pop();
    removed += Erase(e.topic, e.set_id) ? 1 : 0;  // a stale entry (replaced) erases nothing
  }
  return removed;
}

void RetainedStore::RebuildExpiryHeap() {
  std::vector<Expiry> live;
  std::string path;
  auto walk = [&](auto& self, Node* n) -> void {
    for (auto& [level, child] : n->children) {
      const size_t len = path.size();
      if (n != &root_) {
        path.push_back('/');
      }
      path.append(level);
      if (child->message && child->message->expiry_deadline_ms() != 0) {
        live.push_back({child->message->expiry_deadline_ms(), child->set_id, path});
      }
      self(self, child.get());
      path.resize(len);
    }
  };
  walk(walk, &root_);
  expiry_ = decltype(expiry_)(std::greater<Expiry>(), std::move(live));
}

void RetainedStore::Take(Node* n, int64_t now_ms, std::vector<MessageRef>* out,
                         std::vector<std::string>* expired) {
  if (!n->message) {
    return;
  }
  if (n->message->Expired(now_ms)) {
    expired->emplace_back(n->message->topic());  // removed after the walk
    return;
  }
  out->push_back(n->message);
}

void RetainedStore::CollectAll(Node* n, bool first, int64_t now_ms, std::vector<MessageRef>* out,
                               std::vector<std::string>* expired) {
  for (auto& [level, child] : n->children) {
    if (first && !level.empty() && level[0] == '$') {
      continue;  // '#' at the first level does not reach '$' topics
    }
    Take(child.get(), now_ms, out, expired);
    CollectAll(child.get(), /*first=*/false, now_ms, out, expired);
  }
}

void RetainedStore::Collect(Node* n, std::string_view filter, size_t pos, bool first,
                            int64_t now_ms, std::vector<MessageRef>* out,
                            std::vector<std::string>* expired) {
  size_t next;
  std::string_view level = LevelAt(filter, pos, &next);
  if (level == "#") {
    // "a/#" matches "a" itself (the parent level) and everything below.
    if (!first) {
      Take(n, now_ms, out, expired);
    }
    CollectAll(n, first, now_ms, out, expired);
    return;
  }
  auto visit = [&](Node* child) {
    if (next == std::string_view::npos) {
      Take(child, now_ms, out, expired);  // a filter ending here matches this level only
    } else {
      Collect(child, filter, next, /*first=*/false, now_ms, out, expired);
    }
  };
  if (level == "+") {
    for (auto& [name, child] : n->children) {
      if (first && !name.empty() && name[0] == '$') {
        continue;
      }
      visit(child.get());
    }
    return;
  }
  auto it = n->children.find(base::ToAbsl(level));
  if (it != n->children.end()) {
    visit(it->second.get());
  }
}

void RetainedStore::Match(std::string_view filter, int64_t now_ms, std::vector<MessageRef>* out) {
  std::vector<std::string> expired;
  Collect(&root_, filter, 0, /*first=*/true, now_ms, out, &expired);
  for (const std::string& topic : expired) {
    Erase(topic);
  }
}

}  // namespace ringmq::broker
