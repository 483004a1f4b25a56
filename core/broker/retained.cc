// Retained messages: this shard's partition (set, match, expiry sweep) and the fetch of the
// retained messages of a new subscription from the shards that hold them.
//
// A fetch is a scatter/gather: the query goes to every shard for a wildcard filter, to the
// topic's partition for an exact one; the answers are sent after the SUBACK. Between the
// subscription taking effect and that moment, live messages can reach the client first (from
// other shards, over other mailboxes). A retained message of a topic the client has already
// received a live message on is older than what it has, so it is not sent: the session notes
// the live topics while its fetches are in flight (NoteLiveTopic). Without that, the retained
// "old" could arrive after a live "new" and leave the client holding the stale value.
#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/publish_encoder.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

// Live topics a fetch remembers at most; beyond, it stops noting (the window is one mailbox
// round trip, so this takes a flood of distinct topics within it).
constexpr size_t kMaxLiveTopicsPerFetch = 10'000;

bool BrokerShard::StoreRetained(const MessageRef& m, uint64_t durable_token, bool* unstored) {
  bool write = false;
  if (m->store_refused() && !m->topic().starts_with("$SYS")) {
    // Neither kept nor changed: a restart would bring back the old value.
    ShardCounters::Add(counters().refused_retained, 1);
    if (unstored != nullptr) {
      *unstored = true;
    }
  } else if (retained_.Set(m) == RetainedStore::SetResult::kRefused) {
    ShardCounters::Add(counters().refused_retained, 1);
    RINGMQ_LOG_EVERY_S(kWarning, 10,
                       "retained messages on this shard reached %d (%d bytes): not stored "
                       "(--max-retained-messages, --max-retained-bytes)",
                       retained_.size(), retained_.bytes());
  } else if (!m->topic().starts_with("$SYS")) {
    // A QoS 1/2 retained PUBLISH is acknowledged once the retained message is durable.
    const uint64_t token = m->qos() != mqtt::Qos::k0 ? durable_token : 0;
    write = store().RetainedSet(StoreView(*m), token) && token != 0;
  }
  ShardCounters::Set(counters().retained, retained_.size());
  ShardCounters::Set(counters().retained_bytes, retained_.bytes());
  return write;
}

void BrokerShard::MatchRetained(std::string_view filter, std::vector<MessageRef>* out) {
  retained_.Match(filter, now_ms(), out);
  ShardCounters::Set(counters().retained, retained_.size());  // expired ones dropped
  ShardCounters::Set(counters().retained_bytes, retained_.bytes());
}

void BrokerShard::OnRetainedSweep(net::Timer* t) {
  BrokerShard* b = static_cast<ShardTimer*>(t)->broker;
  b->AssertOnOwnShard();
  if (b->stopping_) {
    return;
  }
  if (b->retained_.SweepExpired(b->now_ms()) > 0) {
    ShardCounters::Set(b->counters().retained, b->retained_.size());
    ShardCounters::Set(b->counters().retained_bytes, b->retained_.bytes());
  }
  b->shard_.timers().Schedule(&b->retained_timer_,
                              b->now_ms() + int64_t{b->config().retained_sweep_interval_s} * 1000);
}

void BrokerShard::RequestRetained(Connection& c, PendingResponse& suback,
                                  std::vector<RetainedFilter> filters) {
  const uint64_t id = NewToken();
  auto req = std::make_unique<RetainedRequest>();
  req->conn = c.conn->id();
  req->session = c.session;
  req->results.resize(filters.size());
  // Scatter: a wildcard filter to every shard, an exact one to its topic's partition.
  std::vector<std::unique_ptr<RetainedQueryMsg::Body>> queries(shards_);
  for (uint32_t i = 0; i < filters.size(); ++i) {
    const std::string& f = filters[i].filter;
    auto ask = [&](uint32_t t) {
      if (t == shard_.index()) {
        MatchRetained(f, &req->results[i]);
        return;
      }
      if (!queries[t]) {
        queries[t] = std::make_unique<RetainedQueryMsg::Body>();
        queries[t]->request = id;
      }
      queries[t]->filters.emplace_back(i, f);
    };
    if (mqtt::HasWildcard(f)) {
      for (uint32_t t = 0; t < shards_; ++t) {
        ask(t);
      }
    } else {
      ask(RetainShard(f, shards_));
    }
  }
  for (uint32_t t = 0; t < shards_; ++t) {
    if (queries[t]) {
      Send(t, RetainedQueryMsg{std::move(queries[t])});
      ++req->waiting;
    }
  }
  req->filters = std::move(filters);
  suback.retained_request = id;
  c.session->retained_fetches.push_back(id);
  retained_requests_.emplace(id, std::move(req));
}

void BrokerShard::Handle(uint32_t /*from*/, RetainedQueryMsg&& m) {
  RetainedReplyMsg reply{std::make_unique<RetainedReplyMsg::Body>()};
  reply.body->request = m.body->request;
  for (const auto& [index, filter] : m.body->filters) {
    std::vector<MessageRef> found;
    MatchRetained(filter, &found);
    if (!found.empty()) {
      reply.body->matches.emplace_back(index, std::move(found));
    }
  }
  // To the shard whose request id this is (the id carries the shard in its top byte).
  Send(static_cast<uint32_t>(m.body->request >> 56), std::move(reply));
}

void BrokerShard::Handle(uint32_t /*from*/, RetainedReplyMsg&& m) {
  auto it = retained_requests_.find(m.body->request);
  if (it == retained_requests_.end()) {
    return;  // the connection went away
  }
  RetainedRequest& req = *it->second;
  for (auto& [index, found] : m.body->matches) {
    auto& dst = req.results[index];
    for (MessageRef& msg : found) {
      dst.push_back(std::move(msg));
    }
  }
  if (req.waiting > 0) {
    --req.waiting;
  }
  MaybeSendRetained(m.body->request);
}

void BrokerShard::NoteLiveTopic(Session& s, std::string_view topic) {
  for (uint64_t request : s.retained_fetches) {
    auto it = retained_requests_.find(request);
    if (it != retained_requests_.end() && it->second->live_topics.size() < kMaxLiveTopicsPerFetch) {
      it->second->live_topics.emplace(topic);
    }
  }
}

void BrokerShard::ForgetRetainedRequest(uint64_t request) {
  auto it = retained_requests_.find(request);
  if (it == retained_requests_.end()) {
    return;
  }
  if (Session* s = it->second->session) {
    auto& f = s->retained_fetches;
    f.erase(std::remove(f.begin(), f.end(), request), f.end());
  }
  retained_requests_.erase(it);
}

void BrokerShard::MaybeSendRetained(uint64_t request) {
  auto it = retained_requests_.find(request);
  if (it == retained_requests_.end()) {
    return;
  }
  RetainedRequest& req = *it->second;
  if (!req.suback_sent || req.waiting > 0) {
    return;
  }
  Connection* c = FindConnection(req.conn);
  if (c != nullptr && c->session == req.session && c->state == Connection::State::kConnected) {
    Session& s = *c->session;
    for (size_t i = 0; i < req.filters.size(); ++i) {
      const RetainedFilter& f = req.filters[i];
      if (!HasSubscription(s, f.filter)) {
        continue;  // unsubscribed meanwhile: nothing new for it [MQTT-3.10.4-2]
      }
      for (const MessageRef& m : req.results[i]) {
        if (req.live_topics.contains(base::ToAbsl(m->topic()))) {
          continue;  // the client already has a newer message of this topic
        }
        // Sent because of a new subscription: RETAIN 1 [MQTT-3.3.1-8 (3.1.1)].
        PublishEncoder enc(*m, now_ms());
        Delivery d;
        d.qos = mqtt::MinQos(m->qos(), f.granted);
        d.retain = true;
        if (f.subscription_id != 0) {
          d.subscription_ids.push_back(f.subscription_id);
        }
        DeliverToSession(s, m, std::move(d), &enc);
      }
    }
  }
  ForgetRetainedRequest(request);
}

}  // namespace ringmq::broker
