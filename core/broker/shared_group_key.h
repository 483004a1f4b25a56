// SharedGroupKey: what identifies a shared subscription group on every shard, its share name
// and its filter ("$share/<name>/<filter>"). Immutable and reference-counted (atomically: a
// key made on one shard travels with the group's messages to another), so a message of a
// group names the group by its text, never by a hash that two groups could share.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/hash/hash.h"

#include "core/base/strings.h"

namespace ringmq::broker {

class SharedGroupKey;

class SharedGroupKeyRef {
 public:
  SharedGroupKeyRef() = default;
  static SharedGroupKeyRef Make(std::string_view share_name, std::string_view filter);
  static SharedGroupKeyRef Adopt(SharedGroupKey* k) { return SharedGroupKeyRef(k); }
  SharedGroupKeyRef(const SharedGroupKeyRef& o);
  SharedGroupKeyRef(SharedGroupKeyRef&& o) noexcept : k_(std::exchange(o.k_, nullptr)) {}
  SharedGroupKeyRef& operator=(SharedGroupKeyRef o) noexcept {
    std::swap(k_, o.k_);
    return *this;
  }
  ~SharedGroupKeyRef();

  const SharedGroupKey* get() const { return k_; }
  const SharedGroupKey* operator->() const { return k_; }
  const SharedGroupKey& operator*() const { return *k_; }
  explicit operator bool() const { return k_ != nullptr; }
  // Hands the reference to a raw pointer (into an envelope); take it back with Adopt().
  SharedGroupKey* release() { return std::exchange(k_, nullptr); }

 private:
  explicit SharedGroupKeyRef(SharedGroupKey* k) : k_(k) {}
  SharedGroupKey* k_ = nullptr;
};

class SharedGroupKey {
 public:
  std::string_view share_name() const { return share_name_; }
  std::string_view filter() const { return filter_; }

 private:
  friend class SharedGroupKeyRef;
  SharedGroupKey(std::string_view share_name, std::string_view filter)
      : share_name_(share_name), filter_(filter) {}
  mutable std::atomic<uint32_t> refs_{1};
  const std::string share_name_;
  const std::string filter_;
};

inline SharedGroupKeyRef SharedGroupKeyRef::Make(std::string_view share_name,
                                                 std::string_view filter) {
  return SharedGroupKeyRef(new SharedGroupKey(share_name, filter));
}

inline SharedGroupKeyRef::SharedGroupKeyRef(const SharedGroupKeyRef& o) : k_(o.k_) {
  if (k_ != nullptr) {
    k_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
}

inline SharedGroupKeyRef::~SharedGroupKeyRef() {
  if (k_ != nullptr && k_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete k_;
  }
}

// The text of a group's identity, for look-ups (no allocation).
struct SharedGroupName {
  std::string_view share_name;
  std::string_view filter;
  bool operator==(const SharedGroupName&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SharedGroupName& n) {
    return H::combine(std::move(h), base::ToAbsl(n.share_name), base::ToAbsl(n.filter));
  }
};

}  // namespace ringmq::broker
