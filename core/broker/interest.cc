#include "core/broker/interest.h"

#include <algorithm>

namespace ringmq::broker {

InterestReplicator::InterestReplicator(shard::Shard& shard, uint32_t shards)
    : shard_(shard), self_(shard.index()), shards_(shards), pending_(shards), acked_(shards, 0) {}

uint64_t InterestReplicator::Announce(const InterestUpdate& u) {
  if (shards_ == 1) {
    return 0;
  }
  ++seq_;
  for (uint32_t t = 0; t < shards_; ++t) {
    if (t == self_) {
      continue;
    }
    pending_[t].push_back(u);
    ++queued_;
    if (pending_[t].size() >= kMaxBatch) {
      FlushTo(t);
    }
  }
  return seq_;
}

uint64_t InterestReplicator::MinAcked() const {
  uint64_t min = UINT64_MAX;
  for (uint32_t t = 0; t < shards_; ++t) {
    if (t != self_) {
      min = std::min(min, acked_[t]);
    }
  }
  return min;
}

bool InterestReplicator::Applied(uint64_t seq) const {
  return shards_ == 1 || MinAcked() >= seq;
}

bool InterestReplicator::AwaitApplied(uint64_t seq, uint64_t token) {
  if (Applied(seq)) {
    return false;
  }
  waiters_.emplace(seq, token);
  return true;
}

void InterestReplicator::OnAck(uint32_t from, uint64_t seq, std::vector<uint64_t>* done) {
  acked_[from] = std::max(acked_[from], seq);
  const uint64_t min = MinAcked();
  while (!waiters_.empty() && waiters_.begin()->first <= min) {
    done->push_back(waiters_.begin()->second);
    waiters_.erase(waiters_.begin());
  }
}

void InterestReplicator::Flush() {
  if (queued_ == 0) {
    return;
  }
  for (uint32_t t = 0; t < shards_; ++t) {
    if (!pending_[t].empty()) {
      FlushTo(t);
    }
  }
}

void InterestReplicator::FlushTo(uint32_t target) {
  InterestBatchMsg m;
  m.body = std::make_unique<InterestBatchMsg::Body>();
  m.body->last_seq = seq_;
  m.body->updates.swap(pending_[target]);
  queued_ -= m.body->updates.size();
  shard_.Send(target, ToEnvelope(std::move(m)));
}

}  // namespace ringmq::broker
