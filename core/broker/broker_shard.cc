// Engine events, cross-shard message dispatch, and the shard's lifecycle.
#include "core/broker/broker_shard.h"

#include <errno.h>

#include "core/base/asserts.h"
#include "core/base/log.h"
#include "core/mqtt/encoder.h"

namespace ringmq::broker {

Connection::Connection(BrokerShard* s, net::Conn* c, uint32_t max_packet_size)
    : shard(s), conn(c), reader(max_packet_size), timer(this, nullptr) {}

BrokerShard::BrokerShard(shard::Shard& shard, const BrokerShared& shared)
    : ShardOwned(shard.index()),
      shard_(shard),
      shared_(shared),
      shards_(shared.shards),
      hook_wants_(shared.hooks != nullptr ? shared.hooks->Wants() : 0),
      config_(shared.config),
      router_(shard.index(), shared.shards),
      interest_(shard, shared.shards),
      retained_(RetainedStore::ShareOf(shared.config.max_retained_messages,
                                       shared.config.max_retained_bytes, shared.shards)),
      defer_timer_(this, &BrokerShard::OnDeferTimer),
      sys_timer_(this, &BrokerShard::OnSysTimer),
      heartbeat_timer_(this, &BrokerShard::OnHeartbeatTimer),
      retained_timer_(this, &BrokerShard::OnRetainedSweep),
      decision_timer_(this, &BrokerShard::OnDecisionTimer) {
  if (hooks() != nullptr) {
    hooks()->OnShardStart(*this);  // the hooks' per-shard state, on this shard's thread
  }
}

BrokerShard::~BrokerShard() {
  // Connections still here at destruction (a shutdown that gave up on some): free their
  // state. Sessions go with sessions_ (their timers unlink themselves).
  shard_.reactor().ForEachConn([](net::Conn& c) {
    delete static_cast<Connection*>(c.user());
    c.set_user(nullptr);
  });
  for (const auto& s : sessions_) {
    (void)s;
    shared_.sessions_total.fetch_sub(1, std::memory_order_relaxed);
  }
}

std::string_view BrokerShard::ClientId(const Connection& c) {
  if (c.session != nullptr) {
    return c.session->client_id();
  }
  return c.assigned_id ? std::string_view(*c.assigned_id) : std::string_view("(connecting)");
}

void BrokerShard::OnStart() {
  // What the store gave back is this shard's before it takes any connection.
  if (shard_.index() < shared_.recovery.size() && shared_.recovery[shard_.index()] != nullptr) {
    ApplyRecovery(*shared_.recovery[shard_.index()]);
    shared_.recovery[shard_.index()].reset();
  }
  if (shard_.index() == 0 && config().sys_interval_s > 0) {
    shard_.timers().Schedule(&sys_timer_, now_ms() + 1000);
  }
  shard_.timers().Schedule(&retained_timer_,
                           now_ms() + int64_t{config().retained_sweep_interval_s} * 1000);
  OnHeartbeatTimer(&heartbeat_timer_);
}

// ---- engine events ---------------------------------------------------------------------------

void BrokerShard::OnAccepted(net::Conn& c) {
  AssertOnOwnShard();
  if (!c.has_transport() && shared_.attach_transport &&
      !shared_.attach_transport(shard_.index(), c)) {
    shard_.reactor().Close(c, net::CloseMode::kNow, -ECONNREFUSED);
    return;
  }
  auto* conn = new Connection(this, &c, config().max_packet_size);
  conn->timer.set_callback(&BrokerShard::OnConnectionTimer);
  c.set_user(conn);
  ShardCounters::Add(counters().connections, 1);
  shard_.timers().Schedule(&conn->timer, now_ms() + int64_t{config().connect_timeout_s} * 1000);
}

void BrokerShard::OnAdopted(net::Conn& c, uint64_t /*app_data*/) {
  // A connection whose session lives here; its CONNECT follows in OnData.
  OnAccepted(c);
}

void BrokerShard::OnData(net::Conn& c, std::span<const uint8_t> data) {
  AssertOnOwnShard();
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  ShardCounters::Add(counters().bytes_in, data.size());
  if (shard_.backlogged() && conn->state == Connection::State::kConnected) {
    // Back-pressure across shards: while our mailboxes are full, what clients send waits
    // (it would make more messages for them) and we read no more from them.
    HoldInput(*conn, data);
    HoldForBacklog(*conn);
    return;
  }
  ProcessInput(*conn, data);
}

void BrokerShard::OnClosed(net::Conn& c, int err) {
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  if (conn->state == Connection::State::kConnected) {
    // The network went away without DISCONNECT: an abnormal end, the will is published.
    RINGMQ_LOG(kDebug, "client %s: connection lost (%s)", ClientId(*conn),
               err == 0 ? "closed by peer" : std::strerror(-err));
    ConnectionGone(*conn, /*publish_will=*/true);
  }
  shard_.timers().Cancel(&conn->timer);
  DropResponses(*conn);
  c.set_user(nullptr);
  delete conn;
  ShardCounters::Sub(counters().connections, 1);
}

bool BrokerShard::OnPeerClosed(net::Conn& c) {
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return false;
  }
  // Packets held for a decision (CONNECT authorization, SUBSCRIBE authorization) or for a
  // backlog still count: a client may send CONNECT, PUBLISH, DISCONNECT and close without
  // waiting for anything.
  const bool waiting =
      conn->state == Connection::State::kAuthorizing ||
      (conn->state == Connection::State::kConnected && (conn->blocked || conn->held_size() > 0));
  if (!waiting) {
    return false;  // OnClosed follows: a lost connection if it was connected
  }
  conn->peer_closed = true;
  return true;
}

Connection* BrokerShard::FindConnection(net::ConnId id) {
  net::Conn* c = shard_.reactor().Find(id);
  return c == nullptr ? nullptr : ConnectionOf(*c);
}

void BrokerShard::OnOutputCongested(net::Conn& c) {
  // The client does not read what we send. Deliveries look at Conn::congested() (QoS 0 is
  // dropped, QoS 1/2 waits in the bounded session queue), and we stop reading from it: what
  // it sends makes us write (acknowledgements), so reading on would let a client that never
  // reads grow our memory without bound.
  if (Connection* conn = ConnectionOf(c)) {
    HoldReading(*conn, kHoldCongested);
  }
}

void BrokerShard::OnOutputDrained(net::Conn& c) {
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  ReleaseReading(*conn, kHoldCongested);
  if (conn->session != nullptr) {
    SendQueued(*conn->session);
  }
}

// ---- cross-shard messages ------------------------------------------------------------------

void BrokerShard::OnMessage(const shard::Envelope& e) {
  AssertOnOwnShard();
  const uint32_t from = e.from;
  if (!Visit(e, [this, from](auto&& m) { Handle(from, std::move(m)); })) {
    RINGMQ_BUG("unknown broker message kind");
  }
}

void BrokerShard::OnDiscard(const shard::Envelope& e) {
  Visit(e, [](auto&&) {});  // what the message owns is freed with it
}

void BrokerShard::Handle(uint32_t from, PublishMsg&& m) {
  DeliveryCount n;
  // The publisher's acknowledgement waits for the store writes made here: they report to a
  // token of this shard, and the report goes out once they committed.
  const uint64_t durable = m.report_token != 0 ? NewToken() : 0;
  if (m.store_retained) {
    bool unstored = false;
    n.writes += StoreRetained(m.message, durable, &unstored) ? 1 : 0;
    if (unstored) {
      n.Add(Outcome::kUnstored);
    }
  }
  if (m.deliver) {
    match_scratch_.clear();
    router_.MatchLocal(m.message->topic(), &match_scratch_);
    n += DeliverLocal(m.message, match_scratch_, durable);
  }
  ReportWhenDurable(from, m.report_token, durable, n);
}

void BrokerShard::Handle(uint32_t from, SharedPublishMsg&& m) {
  SharedGroup* g = router_.FindGroup({m.group->share_name(), m.group->filter()});
  const uint64_t durable = m.report_token != 0 ? NewToken() : 0;
  // The group's last member here may have left while the message was on its way.
  const DeliveryCount n = g == nullptr ? DeliveryCount{} : DeliverShared(m.message, g, durable);
  ReportWhenDurable(from, m.report_token, durable, n);
}

void BrokerShard::Handle(uint32_t /*from*/, StoreCommittedMsg&& m) {
  if (auto h = held_sends_.find(m.token); h != held_sends_.end()) {
    const auto [client_id, seq] = std::move(h->second);
    held_sends_.erase(h);
    ReleaseHeldSend(client_id, seq);
    return;
  }
  auto it = held_reports_.find(m.token);
  if (it == held_reports_.end()) {
    ResponsePartDone(m.token, 0, 0);  // a response of this shard waited for the write
    return;
  }
  HeldReport& h = it->second;
  if (--h.count.writes == 0) {
    ReportDelivery(h.to, h.publisher_token, h.count);
    held_reports_.erase(it);
  }
}

void BrokerShard::Handle(uint32_t /*from*/, DeliveryReportMsg&& m) {
  if (auto h = handoff_dones_.find(m.token); h != handoff_dones_.end()) {
    // A message handed to another member is durable there: this session's copy is done (the
    // session may have ended meanwhile: then the store has dropped the copy already).
    store().MessageDone(h->second.first, h->second.second, 0);
    handoff_dones_.erase(h);
    return;
  }
  ResponsePartDone(m.token, m.delivered, m.refused);
}

void BrokerShard::Handle(uint32_t from, InterestBatchMsg&& m) {
  for (const InterestUpdate& u : m.body->updates) {
    router_.ApplyInterest(from, u);
  }
  Send(from, InterestAckMsg{m.body->last_seq});
}

void BrokerShard::Handle(uint32_t from, InterestAckMsg&& m) {
  std::vector<uint64_t> done;
  interest_.OnAck(from, m.seq, &done);
  for (uint64_t token : done) {
    ResponsePartDone(token, 0, 0);
  }
}

// ---- lifecycle -------------------------------------------------------------------------------

void BrokerShard::OnLoopEnd() {
  interest_.Flush();
}

void BrokerShard::OnBacklogCleared() {
  std::vector<net::ConnId> held;
  held.swap(held_for_backlog_);
  for (net::ConnId id : held) {
    Connection* conn = FindConnection(id);
    if (conn == nullptr) {
      continue;
    }
    if (shard_.backlogged()) {
      held_for_backlog_.push_back(id);  // full again: the rest waits for the next time
      continue;
    }
    ReleaseReading(*conn, kHoldBacklog);
    if (!conn->blocked && conn->state == Connection::State::kConnected) {
      ReleaseHeldInput(*conn);  // what arrived while backlogged, in order
    }
  }
}

void BrokerShard::OnStop() {
  stopping_ = true;
  shard_.timers().Cancel(&sys_timer_);
  shard_.timers().Cancel(&heartbeat_timer_);
  shard_.timers().Cancel(&retained_timer_);
  shard_.timers().Cancel(&decision_timer_);
  std::vector<Connection*> all;
  shard_.reactor().ForEachConn([&all](net::Conn& c) {
    if (c.user() != nullptr && !c.closing()) {
      all.push_back(static_cast<Connection*>(c.user()));
    }
  });
  for (Connection* c : all) {
    if (c->state == Connection::State::kConnected) {
      Disconnect(*c, mqtt::ReasonCode::kServerShuttingDown, "server shutting down",
                 /*publish_will=*/false);
    } else if (c->state != Connection::State::kClosing) {
      CloseConnection(*c, net::CloseMode::kNow, 0);
    }
  }
  if (hooks() != nullptr) {
    hooks()->OnShardStop(shard_.index());  // after the last client's events
  }
}

}  // namespace ringmq::broker
