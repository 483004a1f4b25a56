// Decisions (hooks.h): asking, waiting for pending ones with their deadline, and what a
// refusal does to the response that waits for it. The response is the natural home of a
// decision: its packet's answer, and the connection's later packets, wait behind it in order.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"

namespace ringmq::broker {

using mqtt::ReasonCode;

ClientInfo BrokerShard::ClientInfoOf(const Connection& c) const {
  ClientInfo ci;
  ci.client_id = ClientId(c);
  ci.username = c.username ? std::string_view(*c.username) : std::string_view();
  ci.has_username = c.username != nullptr;
  ci.version = c.version;
  ci.shard = shard_.index();
  ci.socket_fd = c.conn != nullptr ? c.conn->fd() : -1;
  if (const net::Transport* t = c.conn != nullptr ? c.conn->transport() : nullptr; t != nullptr) {
    ci.cert_identity = t->PeerIdentity();
  }
  return ci;
}

ClientInfo BrokerShard::ClientInfoOf(const Session& s) const {
  if (s.connection != nullptr) {
    return ClientInfoOf(*s.connection);
  }
  ClientInfo ci;
  ci.client_id = s.client_id();
  ci.shard = shard_.index();
  return ci;
}

ClientInfo BrokerShard::PublisherInfo(const Message& m) const {
  if (!m.publisher_id().empty()) {
    if (auto it = sessions_.find(m.publisher_id()); it != sessions_.end()) {
      return ClientInfoOf(**it);
    }
  }
  ClientInfo ci;
  ci.client_id = m.publisher_id();
  ci.shard = shard_.index();
  return ci;
}

void BrokerShard::AskDecision(Connection& c, PendingResponse& r, Decision d, uint64_t ticket,
                              int entry) {
  switch (d.verdict) {
    case Verdict::kAllow:
      return;
    case Verdict::kDeny:
      NoteRefusal(r, entry, d.reason);
      return;
    case Verdict::kContinue:  // enhanced authentication only: not an answer here
      NoteRefusal(r, entry, ReasonCode::kUnspecifiedError);
      return;
    case Verdict::kPending:
      AwaitParts(c, r, 1);
      pending_decisions_[ticket] = {r.token, entry};
      decision_deadlines_.emplace_back(now_ms() + config().decision_timeout_ms, ticket);
      if (!decision_timer_.armed()) {
        shard_.timers().Schedule(&decision_timer_, decision_deadlines_.front().first);
      }
      return;
  }
}

void BrokerShard::NoteRefusal(PendingResponse& r, int entry, ReasonCode rc) {
  if (entry >= 0 && r.subscribe != nullptr) {
    r.subscribe->entries[static_cast<size_t>(entry)].denied = rc;
    return;
  }
  if (!r.denied) {  // the first refusal says why
    r.denied = true;
    r.reason = rc;
  }
}

PendingResponse* BrokerShard::FindResponse(uint64_t token) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    return nullptr;
  }
  Connection* c = FindConnection(it->second);
  return c == nullptr ? nullptr : c->responses.Find(token);
}

void BrokerShard::FinishDecision(uint64_t token, int entry, Decision d) {
  if (!d.allowed()) {
    if (PendingResponse* r = FindResponse(token)) {
      NoteRefusal(*r, entry, d.reason);
    }
  }
  ResponsePartDone(token, 0, 0);
}

void BrokerShard::Handle(uint32_t /*from*/, DecisionMsg&& m) {
  if (TakeAuthCompletion(m)) {
    return;
  }
  auto it = pending_decisions_.find(m.ticket);
  if (it == pending_decisions_.end()) {
    // Its deadline passed (or its connection went): counted and dropped.
    ShardCounters::Add(counters().late_decisions, 1);
    return;
  }
  if (m.decision.verdict == Verdict::kPending || m.decision.verdict == Verdict::kContinue) {
    m.decision = Decision::Deny(ReasonCode::kUnspecifiedError);  // not an answer
  }
  if (hooks() != nullptr) {
    // A chain of deciders may ask its next one: then the same ticket is awaited again.
    m.decision = hooks()->OnDecisionCompleted(shard_.index(), m.ticket, m.decision);
    if (m.decision.verdict == Verdict::kPending) {
      return;
    }
  }
  const auto [token, entry] = it->second;
  pending_decisions_.erase(it);
  FinishDecision(token, entry, m.decision);
}

void BrokerShard::OnDecisionTimer(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  b->AssertOnOwnShard();
  auto& deadlines = b->decision_deadlines_;
  while (!deadlines.empty() && deadlines.front().first <= b->now_ms()) {
    const uint64_t ticket = deadlines.front().second;
    deadlines.pop_front();
    if (b->ExpireAuthStep(ticket)) {
      continue;
    }
    auto it = b->pending_decisions_.find(ticket);
    if (it == b->pending_decisions_.end()) {
      continue;  // decided in time
    }
    const auto [token, entry] = it->second;
    b->pending_decisions_.erase(it);
    ShardCounters::Add(b->counters().decision_timeouts, 1);
    if (b->hooks() != nullptr) {
      b->hooks()->OnDecisionAbandoned(b->shard_.index(), ticket);
    }
    RINGMQ_LOG_EVERY_S(kWarning, 10, "a decision took longer than %d ms: refused",
                       b->config().decision_timeout_ms);
    // A CONNECT nobody answered: the server is unavailable; anything else: unspecified.
    const PendingResponse* r = b->FindResponse(token);
    const bool connect = r != nullptr && r->kind == PendingResponse::Kind::kConnack;
    b->FinishDecision(
        token, entry,
        Decision::Deny(connect ? ReasonCode::kServerUnavailable : ReasonCode::kUnspecifiedError));
  }
  if (!deadlines.empty()) {
    b->shard_.timers().Schedule(&b->decision_timer_, deadlines.front().first);
  }
}

}  // namespace ringmq::broker

namespace ringmq::broker {

std::string_view DropReasonName(DropReason r) {
  switch (r) {
    case DropReason::kOffline:
      return "offline";
    case DropReason::kSlowConsumer:
      return "slow consumer";
    case DropReason::kQueueFull:
      return "queue full";
    case DropReason::kExpired:
      return "expired";
    case DropReason::kTooLarge:
      return "too large";
    case DropReason::kNotStored:
      return "not stored";
  }
  return "?";
}

}  // namespace ringmq::broker
