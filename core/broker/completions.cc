#include "core/broker/completions.h"

#include "core/broker/cross_shard.h"

namespace ringmq::broker {

void CompletionRouter::Complete(uint64_t ticket, Decision d) {
  Post(ticket, ToEnvelope(DecisionMsg{ticket, d}));
}

void CompletionRouter::OnStoreCommitted(uint64_t token) {
  Post(token, ToEnvelope(StoreCommittedMsg{token}));
}

void CompletionRouter::Post(uint64_t ticket_or_token, shard::Envelope e) {
  const uint32_t shard = ShardOfToken(ticket_or_token);
  base::MutexLock l(&mu_);  // Close() waits for a post in progress
  if (!closed_ && shard < set_->size()) {
    set_->shard(shard).PostExternal(std::move(e));
  }
  // Else dropped: both kinds own nothing (values only).
}

void CompletionRouter::Close() {
  base::MutexLock l(&mu_);
  closed_ = true;
}

}  // namespace ringmq::broker
