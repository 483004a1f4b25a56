// The offline scenario's part of LoadShard: subscribers that subscribe and go offline (their
// persistent sessions queue what the publishers send), the publishers' acknowledgements as
// the measure (count, failures, PUBLISH -> PUBACK latency), and, with --drain_offline, the
// subscribers back for their queues.
//
//   connect:  subscriber CONNECT (clean start 0) -> SUBACK -> DISCONNECT -> the broker
//             closes -> parked (counted ready); publishers connect as usual;
//   publish:  QoS 1/2 at --rate or as fast as --inflight allows; no end-to-end window
//             (nobody receives); a message counts when its PUBACK (PUBREC) comes;
//   drain:    (--drain_offline) the main thread posts kMsgReconnect; each subscriber
//             connects again with clean start 0 and receives what its session kept.
#include "bench/load/load_shard.h"
#include "bench/load/payload.h"

namespace ringmq::bench {

void LoadShard::Park(Client& cl) {
  // The broker closes the connection once it has taken the DISCONNECT: from then on the
  // session is offline and new messages go to its queue.
  Send(cl, mqtt::Disconnect{});
  cl.state = State::kParking;
}

void LoadShard::OnParked(Client& cl) {
  cl.state = State::kParked;
  ++ready_;
  last_ready_ns_ = MonotonicNs();
}

void LoadShard::Reconnect() {
  reconnecting_ = true;
  // Subscribers come first in clients_: connect them again, through the usual path.
  for (size_t i = 0; i < local_subscribers_; ++i) {
    Client& cl = clients_[i];
    if (cl.state == State::kParked) {
      cl.state = State::kPending;
      cl.reader = mqtt::PacketReader();
    }
  }
  next_connect_ = 0;
  connect_end_ = local_subscribers_;
  StartConnects();
}

void LoadShard::RecordAck(Publisher& p, uint32_t slot, mqtt::ReasonCode reason) {
  const uint64_t sent_ns = p.slot_sent_ns[slot];
  const bool in_window = sent_ns >= w0_ns_ && sent_ns < w1_ns_;
  if (mqtt::IsFailure(reason)) {
    ++stats_.ack_failures;
    stats_.ack_failures_window += in_window ? 1 : 0;
    return;
  }
  const uint64_t latency_ns = rx_now_ns_ > sent_ns ? rx_now_ns_ - sent_ns : 0;
  ++stats_.acked;
  if (plan_.offline) {
    recent_.Record(latency_ns);  // the progress lines show acknowledgement latency
  }
  if (in_window) {
    ++stats_.acked_window;
    stats_.ack_latency.Record(latency_ns);
  }
}

void LoadShard::OnOfflineArrival(StreamTracker& stream, uint64_t seq) {
  ++stats_.offline_received;
  last_arrival_ns_ = rx_now_ns_;
  Arrival kind;
  stream.Add(seq, &kind);
  if (kind == Arrival::kDuplicate) {
    ++stats_.offline_duplicated;
  } else {
    ++stats_.offline_unique;
  }
}

uint64_t LoadShard::CountUnacked() const {
  uint64_t n = 0;
  for (const auto& p : publishers_) {
    for (SlotState s : p->slot_state) {
      n += s == SlotState::kAwaitPuback || s == SlotState::kAwaitPubrec ? 1 : 0;
    }
  }
  return n;
}

}  // namespace ringmq::bench
