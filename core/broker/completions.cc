#include "core/broker/completions.h"

#include "core/broker/cross_shard.h"
#include "core/broker/shard_hash.h"

namespace ringmq::broker {

void CompletionRouter::Complete(uint64_t ticket, Decision d) {
  Post(ticket, ToEnvelope(DecisionMsg{ticket, d, nullptr}));
}

void CompletionRouter::CompleteAuth(uint64_t ticket, Decision d, std::string data) {
  Post(ticket, ToEnvelope(DecisionMsg{ticket, d, std::make_unique<std::string>(std::move(data))}));
}

void CompletionRouter::OnStoreCommitted(uint64_t token) {
  Post(token, ToEnvelope(StoreCommittedMsg{token}));
}

void CompletionRouter::RunOn(uint32_t shard, void (*fn)(void* arg), void* arg) {
  PostTo(shard, ToEnvelope(CallMsg{fn, arg}));
}

void CompletionRouter::Disconnect(std::string_view client_id, mqtt::ReasonCode reason) {
  const uint32_t home = HomeShard(client_id, set_->size());
  PostTo(home, ToEnvelope(DisconnectMsg{std::make_unique<std::string>(client_id), reason}));
}

void CompletionRouter::ApplyConfig(const BrokerConfig& config) {
  for (uint32_t i = 0; i < set_->size(); ++i) {
    PostTo(i, ToEnvelope(ConfigMsg{std::make_unique<BrokerConfig>(config)}));
  }
}

void CompletionRouter::Post(uint64_t ticket_or_token, shard::Envelope e) {
  PostTo(ShardOfToken(ticket_or_token), e);
}

void CompletionRouter::PostTo(uint32_t shard, shard::Envelope e) {
  {
    base::MutexLock l(&mu_);  // Close() waits for a post in progress
    if (!closed_ && shard < set_->size()) {
      set_->shard(shard).PostExternal(std::move(e));
      return;
    }
  }
  Visit(e, [](auto&&) {});  // dropped: what it owns is freed
}

void CompletionRouter::Close() {
  base::MutexLock l(&mu_);
  closed_ = true;
}

}  // namespace ringmq::broker
