// The ordered response queue of each connection (response_queue.h): adding responses, the
// asynchronous parts they wait for, and writing them out in order.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"

namespace ringmq::broker {

using mqtt::ReasonCode;

PendingResponse& BrokerShard::AddResponse(Connection& c, PendingResponse::Kind kind,
                                          uint16_t packet_id) {
  return c.responses.Add(kind, packet_id, NewToken());
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

void BrokerShard::ResponsePartDone(uint64_t token, uint32_t delivered, uint32_t refused) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    return;  // the connection is gone
  }
  Connection* c = FindConnection(it->second);
  PendingResponse* r = c == nullptr ? nullptr : c->responses.Find(token);
  if (r == nullptr) {
    tokens_.erase(it);
    return;
  }
  r->delivered += delivered;
  r->refused += refused & ~kUnstoredBit;
  r->unstored |= (refused & kUnstoredBit) != 0;
  RINGMQ_DASSERT(r->waiting > 0);
  if (r->waiting > 0 && --r->waiting == 0) {
    tokens_.erase(it);
    if (r->subscribe != nullptr) {
      ApplySubscribe(*c, *r);  // decided: may wait again, for the interest updates
      c->blocked = false;
      c->unblock_pending = true;
    } else if (r->message) {
      RouteDecidedPublish(*c, *r);  // may wait again, for the deliveries
      c->blocked = false;
      c->unblock_pending = true;
    } else if (r->resume) {
      c->resume_pending = false;  // the session's earlier writes are durable
      c->blocked = false;
      c->unblock_pending = true;
      SendQueued(*c->session);
    }
  }
  FlushResponses(*c);
  if (c->unblock_pending && c->state == Connection::State::kConnected) {
    // After the flush: processing input may add responses (and move `r`).
    c->unblock_pending = false;
    ReleaseHeldInput(*c);
  }
}

void BrokerShard::RouteDecidedPublish(Connection& c, PendingResponse& r) {
  MessageRef m = std::move(r.message);
  if (r.denied) {
    r.delivered = 1;  // not "no subscribers": the reason says what happened
    return;
  }
  AwaitParts(c, r, Route(m, &r));
}

void BrokerShard::DropResponses(Connection& c) {
  // Completions that arrive later find no token; replies to a retained request find no
  // request. Either way nothing is left behind for a connection that is going.
  for (size_t i = 0; i < c.responses.size(); ++i) {
    const PendingResponse& r = c.responses[i];
    tokens_.erase(r.token);
    if (r.retained_request != 0) {
      ForgetRetainedRequest(r.retained_request);
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

void BrokerShard::WritePublishAck(Connection& c, PendingResponse& r) {
  if (r.unstored) {
    RefuseUnstored(c, r);
    return;
  }
  ReasonCode rc = r.reason;
  if (rc == ReasonCode::kSuccess && r.delivered == 0) {
    // Nobody could take it: every matching queue was full (5.0 "Quota exceeded"); or
    // nobody matched (5.0 "No matching subscribers", still a success).
    rc = r.refused > 0 ? ReasonCode::kQuotaExceeded : ReasonCode::kNoMatchingSubscribers;
  }
  if (r.kind == PendingResponse::Kind::kPuback) {
    mqtt::Puback a;
    a.packet_id = r.packet_id;
    a.reason = rc;
    Write(c, a);
    RINGMQ_DASSERT(c.pending_pubacks > 0);
    --c.pending_pubacks;
    return;
  }
  mqtt::Pubrec a;
  a.packet_id = r.packet_id;
  a.reason = rc;
  Write(c, a);
  if (mqtt::IsFailure(rc) && c.session != nullptr) {
    // A refused QoS 2 message ends here [MQTT-4.3.3-9]; its packet id is free again, in the
    // store too (else a restart would take the id's next message for a duplicate).
    c.session->Release(r.packet_id);
    if (!r.refused_unwritten) {
      StoreUnreleased(*c.session, r.packet_id, /*added=*/false, 0);
    }
  }
}

// A message a persistent session (or the retained store) needed but the store could not
// keep: 5.0 says "Quota exceeded"; 3.x has no refusal, so nothing is acknowledged (the client
// sends it again when it reconnects). Never a success for what could be lost.
void BrokerShard::RefuseUnstored(Connection& c, PendingResponse& r) {
  ShardCounters::Add(counters().refused_unstored, 1);
  RINGMQ_LOG_EVERY_S(kWarning, 10, "client %s: message refused: the store cannot keep it now",
                     ClientId(c));
  if (mqtt::IsV5(c.version)) {
    r.reason = ReasonCode::kQuotaExceeded;
    r.unstored = false;
    WritePublishAck(c, r);
    return;
  }
  if (r.kind == PendingResponse::Kind::kPuback) {
    RINGMQ_DASSERT(c.pending_pubacks > 0);
    --c.pending_pubacks;
  } else if (c.session != nullptr) {
    c.session->Release(r.packet_id);  // its resend is a new message
    if (!r.refused_unwritten) {
      StoreUnreleased(*c.session, r.packet_id, /*added=*/false, 0);
    }
  }
}

void BrokerShard::WriteResponse(Connection& c, PendingResponse& r) {
  switch (r.kind) {
    case PendingResponse::Kind::kConnack:
      FinishConnect(c, r);
      return;
    case PendingResponse::Kind::kNone:
      return;
    case PendingResponse::Kind::kPuback:
    case PendingResponse::Kind::kPubrec:
      WritePublishAck(c, r);
      return;
    case PendingResponse::Kind::kPubrel: {
      mqtt::Pubrel a;
      a.packet_id = r.packet_id;
      Write(c, a);
      return;
    }
    case PendingResponse::Kind::kPubcomp: {
      mqtt::Pubcomp a;
      a.packet_id = r.packet_id;
      a.reason = r.reason;
      Write(c, a);
      return;
    }
    case PendingResponse::Kind::kSuback: {
      mqtt::Suback a;
      a.packet_id = r.packet_id;
      a.reasons.assign(r.codes.begin(), r.codes.end());
      Write(c, a);
      if (r.retained_request != 0) {
        auto it = retained_requests_.find(r.retained_request);
        if (it != retained_requests_.end()) {
          it->second->suback_sent = true;  // retained messages follow the SUBACK
          MaybeSendRetained(r.retained_request);
        }
      }
      return;
    }
    case PendingResponse::Kind::kUnsuback: {
      mqtt::Unsuback a;
      a.packet_id = r.packet_id;
      a.reasons.assign(r.codes.begin(), r.codes.end());
      Write(c, a);
      return;
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
  b->AssertOnOwnShard();
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
