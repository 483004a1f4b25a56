#include "core/broker/session.h"

namespace ringmq::broker {

uint16_t Session::NextPacketId() {
  // The window is at most 65,535 ids, so a free one exists whenever a message may be sent.
  RINGMQ_DASSERT(inflight_ids_.size() < 65535);
  for (;;) {
    uint16_t id = ++last_packet_id_;
    if (id == 0) {
      id = last_packet_id_ = 1;
    }
    if (!inflight_ids_.contains(id)) {
      return id;
    }
  }
}

void Session::AddInflight(Queued&& q, uint16_t packet_id) {
  AssertOnOwnShard();
  RINGMQ_DASSERT(q.qos != mqtt::Qos::k0);
  Inflight& f = inflight_.emplace_back();
  f.msg = std::move(q.msg);
  f.seq = q.seq;
  f.subscription_ids = std::move(q.subscription_ids);
  f.packet_id = packet_id;
  f.qos = q.qos;
  f.state = q.qos == mqtt::Qos::k1 ? Inflight::State::kAwaitPuback : Inflight::State::kAwaitPubrec;
  f.retain = q.retain;
  f.shared_group = std::move(q.shared_group);
  const bool fresh = inflight_ids_.insert(packet_id).second;
  RINGMQ_ASSERT(fresh);
  CheckWindow();
}

ptrdiff_t Session::FindInflight(uint16_t packet_id, Inflight::State state) const {
  if (!inflight_ids_.contains(packet_id)) {
    return -1;
  }
  // Acknowledgements come mostly in send order: the oldest is found first.
  for (size_t i = 0; i < inflight_.size(); ++i) {
    const Inflight& f = inflight_[i];
    if (f.packet_id == packet_id) {
      return f.state == state ? static_cast<ptrdiff_t>(i) : -1;
    }
  }
  return -1;
}

Inflight Session::TakeInflight(size_t i) {
  AssertOnOwnShard();
  RINGMQ_DASSERT(i < inflight_.size());
  if (i >= sent_inflight()) {
    --unsent_;  // it had not been sent again on this connection yet
  }
  Inflight f = std::move(inflight_[i]);
  inflight_ids_.erase(f.packet_id);
  inflight_.erase(i);
  CheckWindow();
  return f;
}

void Session::AwaitPubcomp(size_t i) {
  Inflight& f = inflight_[i];
  RINGMQ_DASSERT(f.state == Inflight::State::kAwaitPubrec);
  f.state = Inflight::State::kAwaitPubcomp;
  f.msg = MessageRef();
}

void Session::MarkNextSent() {
  RINGMQ_DASSERT(unsent_ > 0);
  --unsent_;
}

void Session::Enqueue(Queued&& q) {
  AssertOnOwnShard();
  queued_bytes_ += q.msg->footprint();
  queue_.push_back(std::move(q));
  CheckWindow();
}

Queued Session::PopQueued() {
  return TakeQueued(0);
}

Queued Session::TakeQueued(size_t i) {
  AssertOnOwnShard();
  RINGMQ_DASSERT(i < queue_.size());
  Queued q = std::move(queue_[i]);
  queue_.erase(i);
  RINGMQ_DASSERT(queued_bytes_ >= q.msg->footprint());
  queued_bytes_ -= q.msg->footprint();
  CheckWindow();
  return q;
}

void Session::CheckWindow() const {
#ifndef NDEBUG
  RINGMQ_ASSERT(unsent_ <= inflight_.size());
  RINGMQ_ASSERT(inflight_ids_.size() == inflight_.size());
  uint64_t bytes = 0;
  for (size_t i = 0; i < queue_.size(); ++i) {
    bytes += queue_[i].msg->footprint();
  }
  RINGMQ_ASSERT(bytes == queued_bytes_);
  for (size_t i = 0; i < inflight_.size(); ++i) {
    const Inflight& f = inflight_[i];
    RINGMQ_ASSERT(inflight_ids_.contains(f.packet_id));
    RINGMQ_ASSERT((f.state == Inflight::State::kAwaitPubcomp) == !f.msg);
  }
#endif
}

}  // namespace ringmq::broker
