// CompletionRouter: how answers made on other threads reach the shard waiting for them. A
// pending decision (hooks.h) and a pending store write (persistence/offline_store.h) are named
// by a ticket or token whose top byte is the shard that issued it; Complete() and
// OnStoreCommitted() post the answer into that shard's external inbox (Shard::PostExternal),
// and the shard takes it like any other message. Any thread.
#pragma once

#include <cstdint>

#include "core/base/mutex.h"
#include "core/broker/config.h"
#include "core/broker/hooks.h"
#include "core/shard/shard_set.h"
#include "persistence/offline_store.h"

namespace ringmq::broker {

class CompletionRouter final : public DecisionCompleter, public persistence::StoreListener {
 public:
  explicit CompletionRouter(shard::ShardSet* set) : set_(set) {}
  void Complete(uint64_t ticket, Decision d) override;                        // any thread
  void CompleteAuth(uint64_t ticket, Decision d, std::string data) override;  // any thread
  void OnStoreCommitted(uint64_t token) override;                             // any thread
  // Runs fn(arg) on shard `shard`'s thread (dropped once closed: `arg` must not be owned by
  // the call). Any thread.
  void RunOn(uint32_t shard, void (*fn)(void* arg), void* arg);
  // Disconnects the client `client_id` on its session's home shard (5.0: DISCONNECT with
  // `reason`), if it is connected. Any thread.
  void Disconnect(std::string_view client_id, mqtt::ReasonCode reason);
  // Every shard takes `config` as its limits from its next loop on (a reload). Any thread.
  void ApplyConfig(const BrokerConfig& config);
  // From now on answers are dropped: the shards are stopping, and their reactors (which a
  // post wakes) go away with them. Call before ShardSet::Wait(). Main thread.
  void Close();

 private:
  void Post(uint64_t ticket_or_token, shard::Envelope e);
  void PostTo(uint32_t shard, shard::Envelope e);

  shard::ShardSet* set_;
  base::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ringmq::broker
