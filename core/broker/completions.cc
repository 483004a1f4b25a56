#include "core/broker/completions.h"

#include "core/broker/cross_shard.h"

namespace ringmq::broker {

void CompletionRouter::Complete(uint64_t ticket, Decision d) {
  const uint32_t shard = ShardOfToken(ticket);
  if (shard < set_->size()) {
    set_->shard(shard).PostExternal(ToEnvelope(DecisionMsg{ticket, d}));
  }
}

void CompletionRouter::OnStoreCommitted(uint64_t token) {
  const uint32_t shard = ShardOfToken(token);
  if (shard < set_->size()) {
    set_->shard(shard).PostExternal(ToEnvelope(StoreCommittedMsg{token}));
  }
}

}  // namespace ringmq::broker
