#include "core/broker/retained_store.h"

#include "core/base/strings.h"

namespace ringmq::broker {
namespace {

std::string_view LevelAt(std::string_view s, size_t pos, size_t* next) {
  size_t slash = s.find('/', pos);
  if (slash == std::string_view::npos) {
    *next = std::string_view::npos;
    return s.substr(pos);
  }
  *next = slash + 1;
  return s.substr(pos, slash - pos);
}

}  // namespace

void RetainedStore::Set(MessageRef m) {
  std::string_view topic = m->topic();
  if (m->payload().empty()) {
    EraseAt(&root_, topic, 0);
    return;
  }
  Node* n = &root_;
  size_t pos = 0;
  while (pos != std::string_view::npos) {
    size_t next;
    std::string_view level = LevelAt(topic, pos, &next);
    auto it = n->children.find(base::ToAbsl(level));
    if (it == n->children.end()) {
      it = n->children.emplace(std::string(level), std::make_unique<Node>()).first;
    }
    n = it->second.get();
    pos = next;
  }
  if (!n->message) {
    ++count_;
  }
  n->message = std::move(m);
}

bool RetainedStore::EraseAt(Node* n, std::string_view topic, size_t pos) {
  size_t next;
  std::string_view level = LevelAt(topic, pos, &next);
  auto it = n->children.find(base::ToAbsl(level));
  if (it == n->children.end()) {
    return false;
  }
  Node* child = it->second.get();
  if (next == std::string_view::npos) {
    if (child->message) {
      child->message = MessageRef();
      --count_;
    }
  } else {
    EraseAt(child, topic, next);
  }
  if (!child->message && child->children.empty()) {
    n->children.erase(it);
  }
  return true;
}

bool RetainedStore::Take(Node* n, int64_t now_ms, std::vector<MessageRef>* out) {
  if (!n->message) {
    return false;
  }
  if (n->message->Expired(now_ms)) {
    n->message = MessageRef();
    --count_;
    return false;
  }
  out->push_back(n->message);
  return true;
}

void RetainedStore::CollectAll(Node* n, bool first, int64_t now_ms, std::vector<MessageRef>* out) {
  for (auto& [level, child] : n->children) {
    if (first && !level.empty() && level[0] == '$') {
      continue;  // '#' at the first level does not reach '$' topics
    }
    Take(child.get(), now_ms, out);
    CollectAll(child.get(), /*first=*/false, now_ms, out);
  }
}

void RetainedStore::Collect(Node* n, std::string_view filter, size_t pos, bool first,
                            int64_t now_ms, std::vector<MessageRef>* out) {
  size_t next;
  std::string_view level = LevelAt(filter, pos, &next);
  if (level == "#") {
    // "a/#" matches "a" itself (the parent level) and everything below.
    if (!first) {
      Take(n, now_ms, out);
    }
    CollectAll(n, first, now_ms, out);
    return;
  }
  auto visit = [&](Node* child) {
    if (next == std::string_view::npos) {
      Take(child, now_ms, out);
      // "a/+" does not match "a/b/c", but "a/+/#"'s parent rule is handled by '#' above; a
      // filter ending here matches only this exact level.
    } else {
      Collect(child, filter, next, /*first=*/false, now_ms, out);
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
  Collect(&root_, filter, 0, /*first=*/true, now_ms, out);
}

}  // namespace ringmq::broker
