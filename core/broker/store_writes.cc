// Store writes: what changes in a persistent session is told to the store (offline_store.h),
// from here only. Sessions that end with their connection are never written.
#include "core/broker/broker_shard.h"

namespace ringmq::broker {

persistence::MessageView BrokerShard::StoreView(const Message& m) {
  persistence::MessageView v;
  v.topic = m.topic();
  v.payload = m.payload();
  v.properties = m.forward_properties();
  v.qos = m.qos();
  v.retain = m.retain();
  v.expiry_deadline_ms = m.expiry_deadline_ms();
  v.id = m.id();
  return v;
}

void BrokerShard::StoreSession(const Session& s) {
  if (s.persistent()) {
    store().SessionUpdated({s.client_id(), s.version, s.expiry_s}, 0);
  }
}

void BrokerShard::StoreWill(const Session& s) {
  if (!s.persistent()) {
    return;
  }
  if (!s.will) {
    store().WillSet(s.client_id(), nullptr, 0);
    return;
  }
  const WillMessage& w = *s.will;
  const persistence::WillView v{w.topic,  w.payload, w.forward_properties, w.qos,
                                w.retain, w.delay_s, w.message_expiry_s,   w.has_message_expiry};
  store().WillSet(s.client_id(), &v, 0);
}

bool BrokerShard::StoreAccepting() const {
  return shared_.store->Accepting();
}

bool BrokerShard::StoreDelivery(const Session& s, const Queued& q, uint64_t token) {
  if (!s.persistent()) {
    return false;
  }
  persistence::DeliveryView d;
  d.seq = q.seq;
  d.message = StoreView(*q.msg);
  d.qos = q.qos;
  d.retain = q.retain;
  return store().MessageQueued(s.client_id(), d, token) && token != 0;
}

bool BrokerShard::StoreSent(const Session& s, const Inflight& f, uint64_t token) {
  if (!s.persistent()) {
    return false;
  }
  return store().MessageSent(s.client_id(), f.seq, f.packet_id,
                             f.state == Inflight::State::kAwaitPubcomp, token) &&
         token != 0;
}

void BrokerShard::Done(Session& s, uint64_t seq) {
  if (s.persistent() && seq != 0) {
    store().MessageDone(s.client_id(), seq, 0);
  }
}

bool BrokerShard::StoreUnreleased(const Session& s, uint16_t packet_id, bool added,
                                  uint64_t token) {
  if (!s.persistent()) {
    return false;
  }
  const bool write = added ? store().UnreleasedQos2Added(s.client_id(), packet_id, token)
                           : store().UnreleasedQos2Released(s.client_id(), packet_id, token);
  return write && token != 0;
}

}  // namespace ringmq::broker
