#include "core/broker/broker_shard.h"

#include <errno.h>

#include "core/base/asserts.h"
#include "core/base/log.h"
#include "core/mqtt/encoder.h"

namespace ringmq::broker {

Connection::Connection(BrokerShard* s, net::Conn* c, uint32_t max_packet_size)
    : shard(s), conn(c), reader(max_packet_size), timer(this, nullptr) {}

BrokerShard::BrokerShard(shard::Shard& shard, const BrokerShared& shared)
    : shard_(shard),
      shared_(shared),
      shards_(shared.shards),
      defer_timer_(this, &BrokerShard::OnDeferTimer),
      sys_timer_(this, &BrokerShard::OnSysTimer) {}

BrokerShard::~BrokerShard() {
  // Connections still here at destruction (a shutdown that gave up on some): free their
  // state. Sessions go with sessions_ (their timers unlink themselves).
  shard_.reactor().ForEachConn([](net::Conn& c) {
    delete static_cast<Connection*>(c.user());
    c.set_user(nullptr);
  });
}

std::string_view BrokerShard::ClientId(const Connection& c) {
  if (c.session != nullptr) {
    return c.session->client_id();
  }
  return c.assigned_id ? std::string_view(*c.assigned_id) : std::string_view("(connecting)");
}

void BrokerShard::OnStart() {
  if (shard_.index() == 0 && config().sys_interval_s > 0) {
    shard_.timers().Schedule(&sys_timer_, now_ms() + 1000);
  }
}

// ---- connections ---------------------------------------------------------------------------

void BrokerShard::OnAccepted(net::Conn& c) {
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
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  ShardCounters::Add(counters().bytes_in, data.size());
  ProcessInput(*conn, data);
  // A CONNECT for a session of another shard hands the socket over and frees `conn`: what
  // is left of the connection here is the net::Conn on its way out, with no user.
  conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  // Back-pressure across shards: while our mailboxes are full, stop reading publishers.
  if (shard_.backlogged() && !c.closing() && !c.read_paused()) {
    shard_.reactor().PauseRead(c);
    conn->read_paused_backlog = true;
    paused_for_backlog_.push_back(c.id());
  }
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
  // Packets held for a decision (CONNECT authorization, SUBSCRIBE authorization) still count:
  // a client may send CONNECT, PUBLISH, DISCONNECT and close without waiting for anything.
  const bool waiting = conn->state == Connection::State::kAuthorizing ||
                       (conn->state == Connection::State::kConnected && conn->blocked);
  if (!waiting) {
    return false;  // OnClosed follows: a lost connection if it was connected
  }
  conn->peer_closed = true;
  return true;
}

void BrokerShard::FinishPeerClosed(Connection& c) {
  if (!c.peer_closed || c.blocked || c.state != Connection::State::kConnected) {
    return;
  }
  // Everything the client sent has been handled; it is gone without DISCONNECT.
  ConnectionGone(c, /*publish_will=*/true);
  c.state = Connection::State::kClosing;
  DropResponses(c);
  shard_.timers().Cancel(&c.timer);
  shard_.reactor().Close(*c.conn, net::CloseMode::kAfterFlush, 0);
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
  if (!c.read_paused()) {
    shard_.reactor().PauseRead(c);
  }
}

void BrokerShard::OnOutputDrained(net::Conn& c) {
  Connection* conn = ConnectionOf(c);
  if (conn == nullptr) {
    return;
  }
  if (!conn->paused_while_connecting && !conn->read_paused_backlog) {
    shard_.reactor().ResumeRead(c);
  }
  if (conn->session != nullptr) {
    SendQueued(*conn->session);
  }
}

// ---- cross-shard messages -----------------------------------------------------------------

// Answers a routed publish that asked for a count (e.u64 names the waiting
// response on the sending shard; 0 means nobody is waiting).
void BrokerShard::ReportDelivery(const shard::Envelope& e, DeliveryCount n) {
  if (e.u64 == 0) {
    return;
  }
  shard::Envelope r;
  r.kind = kDeliveryReport;
  r.u64 = e.u64;
  r.aux = (uint64_t{n.delivered} << 32) | n.refused;
  shard_.Send(e.from, r);
}

void BrokerShard::OnMessage(const shard::Envelope& e) {
  switch (e.kind) {
    case kPublish: {
      MessageRef m = MessageRef::Adopt(static_cast<Message*>(e.ptr));
      ReportDelivery(
          e, ApplyPublish(m, (e.aux & kStoreRetained) != 0, (e.aux & kMatchSubscribers) != 0));
      return;
    }
    case kPublishShared: {
      MessageRef m = MessageRef::Adopt(static_cast<Message*>(e.ptr));
      DeliveryCount n = DeliverShared(m, e.aux);
      ReportDelivery(e, n);
      return;
    }
    case kDeliveryReport:
      ResponsePartDone(e.u64, static_cast<uint32_t>(e.aux >> 32), static_cast<uint32_t>(e.aux));
      return;
    case kInterest: {
      std::unique_ptr<InterestUpdate> u(static_cast<InterestUpdate*>(e.ptr));
      ApplyInterest(*u);
      if (e.u64 != 0) {
        shard::Envelope ack;
        ack.kind = kInterestAck;
        ack.u64 = e.u64;
        shard_.Send(e.from, ack);
      }
      return;
    }
    case kInterestAck:
      OnInterestAck(e.u64);
      return;
    case kRetainedQuery: {
      std::unique_ptr<RetainedQuery> q(static_cast<RetainedQuery*>(e.ptr));
      HandleRetainedQuery(*q);
      return;
    }
    case kRetainedReply: {
      std::unique_ptr<RetainedReply> r(static_cast<RetainedReply*>(e.ptr));
      HandleRetainedReply(*r);
      return;
    }
    default:
      RINGMQ_BUG("unknown broker message kind");
  }
}

void BrokerShard::OnDiscard(const shard::Envelope& e) {
  switch (e.kind) {
    case kPublish:
    case kPublishShared:
      MessageRef::Adopt(static_cast<Message*>(e.ptr));  // releases the reference
      return;
    case kInterest:
      delete static_cast<InterestUpdate*>(e.ptr);
      return;
    case kRetainedQuery:
      delete static_cast<RetainedQuery*>(e.ptr);
      return;
    case kRetainedReply:
      delete static_cast<RetainedReply*>(e.ptr);
      return;
    default:
      return;
  }
}

void BrokerShard::OnLoopEnd() {
  if (!paused_for_backlog_.empty() && !shard_.backlogged()) {
    for (net::ConnId id : paused_for_backlog_) {
      net::Conn* c = shard_.reactor().Find(id);
      Connection* conn = c == nullptr ? nullptr : ConnectionOf(*c);
      if (conn == nullptr) {
        continue;
      }
      conn->read_paused_backlog = false;
      if (!c->congested() && !conn->paused_while_connecting) {
        shard_.reactor().ResumeRead(*c);
      }
    }
    paused_for_backlog_.clear();
  }
}

void BrokerShard::OnStop() {
  stopping_ = true;
  shard_.timers().Cancel(&sys_timer_);
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
      c->state = Connection::State::kClosing;
      shard_.reactor().Close(*c->conn, net::CloseMode::kNow, 0);
    }
  }
}

// ---- ordered responses --------------------------------------------------------------------

PendingResponse& BrokerShard::AddResponse(Connection& c, PendingResponse::Kind kind,
                                          uint16_t packet_id) {
  PendingResponse& r = c.responses.emplace_back();
  r.kind = kind;
  r.packet_id = packet_id;
  r.token = NewToken();
  return r;
}

void BrokerShard::ResponsePartDone(uint64_t token, uint32_t delivered, uint32_t refused) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    return;  // the connection is gone
  }
  Connection* c = FindConnection(it->second);
  if (c == nullptr) {
    tokens_.erase(it);
    return;
  }
  for (size_t i = 0; i < c->responses.size(); ++i) {
    PendingResponse& r = c->responses[i];
    if (r.token != token) {
      continue;
    }
    r.delivered += delivered;
    r.refused += refused;
    RINGMQ_DASSERT(r.waiting > 0);
    if (r.waiting > 0 && --r.waiting == 0) {
      tokens_.erase(it);
      if (r.subscribe != nullptr) {
        ApplySubscribe(*c, r);  // authorized: may wait again, for the interest acks
        c->blocked = false;
        c->unblock_pending = true;
      }
    }
    break;
  }
  FlushResponses(*c);
  if (c->unblock_pending && c->state == Connection::State::kConnected) {
    // After the loop above: processing input may add responses (and move `r`).
    c->unblock_pending = false;
    ReleaseHeldInput(*c);
  }
}

void BrokerShard::AwaitParts(Connection& c, PendingResponse& r, uint32_t parts) {
  if (parts == 0) {
    return;
  }
  if (r.waiting == 0) {
    tokens_[r.token] = c.conn->id();
  }
  r.waiting += parts;
}

void BrokerShard::DropResponses(Connection& c) {
  // Completions that arrive later find no token; replies to a retained request find no
  // request. Either way nothing is left behind for a connection that is going.
  for (size_t i = 0; i < c.responses.size(); ++i) {
    const PendingResponse& r = c.responses[i];
    tokens_.erase(r.token);
    if (r.retained_request != 0) {
      retained_requests_.erase(r.retained_request);
    }
  }
  c.responses.clear();
}

void BrokerShard::FlushResponses(Connection& c) {
  while (!c.responses.empty()) {
    PendingResponse& r = c.responses.front();
    if (r.waiting > 0) {
      return;  // later entries wait for this one: acknowledgements stay in order
    }
    if (c.state == Connection::State::kClosing) {
      DropResponses(c);
      return;
    }
    const bool connack = r.kind == PendingResponse::Kind::kConnack;
    WriteResponse(c, r);
    if (c.responses.empty()) {
      return;  // WriteResponse ended the connection
    }
    c.responses.pop_front();
    if (connack && c.state == Connection::State::kConnected) {
      ReleaseHeldInput(c);  // packets sent after CONNECT waited for the CONNACK
    }
  }
}

void BrokerShard::Defer(Connection& c, PendingResponse& r) {
  if (config().debug_defer_ms == 0) {
    return;
  }
  AwaitParts(c, r, 1);
  deferred_.emplace_back(now_ms() + config().debug_defer_ms, r.token);
  if (!defer_timer_.armed()) {
    shard_.timers().Schedule(&defer_timer_, deferred_.front().first);
  }
}

void BrokerShard::OnDeferTimer(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  while (!b->deferred_.empty() && b->deferred_.front().first <= b->now_ms()) {
    uint64_t token = b->deferred_.front().second;
    b->deferred_.pop_front();
    b->ResponsePartDone(token, 0, 0);
  }
  if (!b->deferred_.empty()) {
    b->shard_.timers().Schedule(&b->defer_timer_, b->deferred_.front().first);
  }
}

}  // namespace ringmq::broker
