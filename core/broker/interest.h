// InterestReplicator: tells every other shard what this shard's subscribers want, in order,
// in batches, and knows when they have applied it. Shard-local.
//
// Each update this shard makes (a filter gaining its first or losing its last local
// subscriber, a shared group's member counts changing) gets the next sequence number of this
// shard and is queued for every other shard. Once per loop iteration (or when a batch is
// full) each shard gets one InterestBatchMsg with the updates queued for it; it applies them
// in order and answers with InterestAckMsg carrying the batch's last sequence number. Acks
// from one shard come in order, so `acked_[t]` only grows.
//
// A SUBACK must not go out before every shard routes matching messages to this shard, i.e.
// before every other shard has applied the update that made (or keeps) this shard
// interested: the sequence number the FilterEntry or SharedGroup remembers as announced.
// AwaitApplied(seq, token) completes `token` once that holds. Matching on sequence numbers
// (not on "some ack for this filter") is what keeps an unsubscribe and a re-subscribe in one
// round trip from confirming the new subscription with the old update's ack.
//
// Bounds: a batch carries at most kMaxBatch updates; updates come only from SUBSCRIBE,
// UNSUBSCRIBE and connection changes, which the shard stops reading while its mailboxes are
// backlogged. The waiters are the SUBACKs not yet sent (bounded by the connections' response
// queues).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "core/broker/cross_shard.h"
#include "core/shard/shard.h"

namespace ringmq::broker {

class InterestReplicator {
 public:
  static constexpr size_t kMaxBatch = 256;

  InterestReplicator(shard::Shard& shard, uint32_t shards);

  // Queues `u` for every other shard; returns its sequence number (0 with one shard: there
  // is nobody to tell).
  uint64_t Announce(const InterestUpdate& u);
  // Every other shard has applied the update numbered `seq`.
  bool Applied(uint64_t seq) const;
  // Completes `token` (into *done from OnAck) once Applied(seq). False if it already holds
  // (nothing is registered then).
  bool AwaitApplied(uint64_t seq, uint64_t token);
  // Shard `from` has applied everything up to `seq`: appends the tokens now complete.
  void OnAck(uint32_t from, uint64_t seq, std::vector<uint64_t>* done);
  // Sends the queued updates: one batch per shard. Once per loop iteration.
  void Flush();
  bool idle() const { return waiters_.empty() && queued_ == 0; }

 private:
  void FlushTo(uint32_t target);
  uint64_t MinAcked() const;

  shard::Shard& shard_;
  const uint32_t self_;
  const uint32_t shards_;
  uint64_t seq_ = 0;
  std::vector<std::vector<InterestUpdate>> pending_;  // per target
  std::vector<uint64_t> acked_;                       // per target
  size_t queued_ = 0;
  std::multimap<uint64_t, uint64_t> waiters_;  // seq -> token
};

}  // namespace ringmq::broker
