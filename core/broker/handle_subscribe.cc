// SUBSCRIBE and UNSUBSCRIBE: the session's subscriptions, the local tries, the replicated
// interest trie, and retained messages for new subscriptions.
#include <algorithm>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/broker/publish_encoder.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

using mqtt::Qos;
using mqtt::ReasonCode;

void BrokerShard::HandleSubscribe(Connection& c, const mqtt::Subscribe& p) {
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kSuback, p.packet_id);
  auto pending = std::make_unique<PendingSubscribe>();
  pending->subscription_id = p.properties.subscription_identifier;  // 0: none
  for (const mqtt::Subscription& sub : p.subscriptions) {
    pending->entries.push_back({std::string(sub.filter), sub.options});
  }
  r.subscribe = std::move(pending);
  // The authorization decision (an ACL plugin later) would add its wait here; nothing takes
  // effect before it.
  Defer(c, r);
  if (r.waiting == 0) {
    ApplySubscribe(c, r);
  } else {
    c.blocked = true;  // later packets wait for this SUBSCRIBE to take effect
  }
  FlushResponses(c);
}

void BrokerShard::ApplySubscribe(Connection& c, PendingResponse& r) {
  std::unique_ptr<PendingSubscribe> pending = std::move(r.subscribe);
  if (pending == nullptr || c.session == nullptr) {
    return;
  }
  Session& s = *c.session;
  std::vector<RetainedFilter> retained;
  // Several filters are handled as a sequence of SUBSCRIBEs, answered by one SUBACK with one
  // code per filter, in order [MQTT-3.8.4-5/6], [MQTT-3.9.3-1].
  for (const PendingSubscribe::Entry& sub : pending->entries) {
    std::string_view inner = sub.filter;
    const bool shared = mqtt::IsSharedFilter(sub.filter);
    if (shared) {
      mqtt::SharedFilter sf;
      (void)mqtt::ParseSharedFilter(sub.filter, &sf);  // validated by the decoder
      inner = sf.filter;
    }
    if (mqtt::TopicLevelCount(inner) > config().max_topic_levels) {
      r.codes.push_back(ReasonCode::kTopicFilterInvalid);  // well-formed, but not accepted
      continue;
    }
    uint32_t acks = 0;
    const bool existed =
        AddSubscription(s, sub.filter, sub.options, pending->subscription_id, r.token, &acks);
    // The SUBACK waits until every shard routes matching messages here, so a publish made
    // after it, from any connection, reaches this subscription.
    AwaitParts(c, r, acks);
    // Granted: what was asked; every QoS is supported [MQTT-3.2.2-10], [MQTT-3.8.4-7].
    r.codes.push_back(static_cast<ReasonCode>(sub.options.max_qos));
    // Retained messages for the new subscription [MQTT-3.3.1-9/10/11]; a replaced
    // subscription gets them again with Retain Handling 0 [MQTT-3.8.4-4]. None for shared
    // subscriptions.
    const mqtt::RetainHandling rh = sub.options.retain_handling;
    if (!shared && (rh == mqtt::RetainHandling::kSendOnSubscribe ||
                    (rh == mqtt::RetainHandling::kSendIfNewSubscription && !existed))) {
      retained.push_back({sub.filter, pending->subscription_id, sub.options.max_qos});
    }
  }
  if (!retained.empty()) {
    RequestRetained(c, r, std::move(retained));
  }
}

void BrokerShard::HandleUnsubscribe(Connection& c, const mqtt::Unsubscribe& p) {
  Session& s = *c.session;
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kUnsuback, p.packet_id);
  // Literal comparison with the session's filters [MQTT-3.10.4-1]; UNSUBACK even when nothing
  // was removed [MQTT-3.10.4-5]; messages already in flight complete [MQTT-3.10.4-3].
  for (std::string_view filter : p.filters) {
    r.codes.push_back(RemoveSubscription(s, filter) ? ReasonCode::kSuccess
                                                    : ReasonCode::kNoSubscriptionExisted);
  }
  Defer(c, r);
  FlushResponses(c);
}

bool BrokerShard::AddSubscription(Session& s, std::string_view filter,
                                  const mqtt::SubscriptionOptions& o, uint32_t subscription_id,
                                  uint64_t token, uint32_t* acks) {
  auto [it, inserted] = s.subscriptions.try_emplace(std::string(filter));
  it->second.options = o;
  it->second.subscription_id = subscription_id;
  // A subscriber entry for this session in `list`, or nullptr.
  auto find_in = [&s](std::vector<Subscriber>& list) -> Subscriber* {
    for (Subscriber& x : list) {
      if (x.session == &s) {
        return &x;
      }
    }
    return nullptr;
  };
  if (mqtt::IsSharedFilter(filter)) {
    mqtt::SharedFilter sf;
    (void)mqtt::ParseSharedFilter(filter, &sf);
    LocalSharedGroups& groups = shared_subs_.Insert(sf.filter);
    std::unique_ptr<SharedGroup>& g = groups.by_name[std::string(sf.share_name)];
    if (!g) {
      g = std::make_unique<SharedGroup>();
      g->name = std::string(sf.share_name);
      g->filter = std::string(sf.filter);
      g->hash = SharedGroupHash(sf.share_name, sf.filter);
      shared_by_hash_[g->hash] = g.get();
    }
    if (Subscriber* x = find_in(g->members)) {
      x->options = o;  // replaced in place: no message lost in the swap [MQTT-3.8.4-4]
      x->subscription_id = subscription_id;
    } else {
      g->members.push_back({&s, o, subscription_id});
      *acks += AnnounceGroup(*g, token);
    }
  } else {
    LocalSubscribers& ls = subs_.Insert(filter);
    if (Subscriber* x = find_in(ls.subs)) {
      x->options = o;  // [MQTT-3.8.4-3]
      x->subscription_id = subscription_id;
    } else {
      ls.subs.push_back({&s, o, subscription_id});
      // The first subscriber on this shard makes the other shards route the filter here; a
      // later one needs nothing, unless that news has not reached every shard yet: then its
      // SUBACK waits for the same confirmation (a second broadcast, harmless to apply twice).
      if (ls.subs.size() == 1 || ls.unconfirmed > 0) {
        *acks += BroadcastInterest(filter, {}, 1, token);
      }
    }
  }
  if (inserted) {
    ShardCounters::Add(counters().subscriptions, 1);
  }
  if (s.persistent() &&
      store().SubscriptionAdded(s.client_id(), filter, o, subscription_id, token)) {
    ++*acks;  // the SUBACK waits for the subscription to be durable
  }
  return !inserted;
}

bool BrokerShard::RemoveSubscription(Session& s, std::string_view filter) {
  auto it = s.subscriptions.find(base::ToAbsl(filter));
  if (it == s.subscriptions.end()) {
    return false;
  }
  s.subscriptions.erase(it);
  ShardCounters::Sub(counters().subscriptions, 1);
  if (s.persistent()) {
    store().SubscriptionRemoved(s.client_id(), filter, 0);
  }
  auto remove_from = [&s](std::vector<Subscriber>& list) {
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&s](const Subscriber& x) { return x.session == &s; }),
               list.end());
  };
  if (mqtt::IsSharedFilter(filter)) {
    mqtt::SharedFilter sf;
    (void)mqtt::ParseSharedFilter(filter, &sf);
    LocalSharedGroups* groups = shared_subs_.Find(sf.filter);
    if (groups == nullptr) {
      return true;
    }
    auto git = groups->by_name.find(base::ToAbsl(sf.share_name));
    if (git == groups->by_name.end()) {
      return true;
    }
    SharedGroup& g = *git->second;
    remove_from(g.members);
    AnnounceGroup(g, 0);
    if (g.members.empty()) {
      shared_by_hash_.erase(g.hash);
      groups->by_name.erase(git);
      if (groups->by_name.empty()) {
        shared_subs_.Erase(sf.filter);
      }
    }
    return true;
  }
  LocalSubscribers* ls = subs_.Find(filter);
  if (ls != nullptr) {
    remove_from(ls->subs);
    if (ls->subs.empty()) {
      subs_.Erase(filter);
      // No more matching messages for this shard [MQTT-3.10.4-2]. A few may still arrive
      // before the other shards hear it; the local trie no longer matches them.
      BroadcastInterest(filter, {}, 0, 0);
    }
  }
  return true;
}

void BrokerShard::RemoveAllSubscriptions(Session& s) {
  std::vector<std::string> filters;
  filters.reserve(s.subscriptions.size());
  for (const auto& [filter, unused] : s.subscriptions) {
    filters.push_back(filter);
  }
  for (const std::string& f : filters) {
    RemoveSubscription(s, f);
  }
}

uint32_t BrokerShard::AnnounceGroup(SharedGroup& g, uint64_t token) {
  g.announced_online = g.Online();
  return BroadcastInterest(g.filter, g.name, static_cast<uint32_t>(g.members.size()), token,
                           g.announced_online);
}

void BrokerShard::AnnouncePresence(const Session& s) {
  for (const auto& [filter, unused] : s.subscriptions) {
    if (!mqtt::IsSharedFilter(filter)) {
      continue;
    }
    mqtt::SharedFilter sf;
    (void)mqtt::ParseSharedFilter(filter, &sf);
    LocalSharedGroups* groups = shared_subs_.Find(sf.filter);
    if (groups == nullptr) {
      continue;
    }
    auto it = groups->by_name.find(base::ToAbsl(sf.share_name));
    if (it != groups->by_name.end() && it->second->Online() != it->second->announced_online) {
      AnnounceGroup(*it->second, 0);
    }
  }
}

uint32_t BrokerShard::BroadcastInterest(std::string_view filter, std::string_view share_name,
                                        uint32_t count, uint64_t token, uint32_t online) {
  InterestUpdate local{std::string(filter), std::string(share_name), shard_.index(), count, online};
  ApplyInterest(local);
  if (shards_ == 1) {
    return 0;
  }
  uint64_t broadcast = 0;
  if (token != 0) {
    broadcast = NewToken();
    PendingInterest& p = pending_interest_[broadcast];
    p.acks_left = shards_ - 1;
    p.token = token;
    if (share_name.empty()) {
      p.filter = std::string(filter);
      if (LocalSubscribers* ls = subs_.Find(filter)) {
        ++ls->unconfirmed;
      }
    }
  }
  for (uint32_t t = 0; t < shards_; ++t) {
    if (t == shard_.index()) {
      continue;
    }
    shard::Envelope e;
    e.kind = kInterest;
    e.ptr = new InterestUpdate(local);
    e.u64 = broadcast;  // acknowledged when non-zero
    shard_.Send(t, e);
  }
  return token != 0 ? shards_ - 1 : 0;
}

void BrokerShard::OnInterestAck(uint64_t broadcast) {
  auto it = pending_interest_.find(broadcast);
  if (it == pending_interest_.end()) {
    return;
  }
  PendingInterest& p = it->second;
  const uint64_t token = p.token;
  if (--p.acks_left == 0) {
    if (!p.filter.empty()) {
      if (LocalSubscribers* ls = subs_.Find(p.filter); ls != nullptr && ls->unconfirmed > 0) {
        --ls->unconfirmed;  // every shard routes this filter here now
      }
    }
    pending_interest_.erase(it);
  }
  ResponsePartDone(token, 0, 0);
}

void BrokerShard::ApplyInterest(const InterestUpdate& u) {
  Interest& in = interest_.Insert(u.filter);
  if (u.share_name.empty()) {
    const uint64_t bit = uint64_t{1} << u.shard;
    in.shards = u.count != 0 ? (in.shards | bit) : (in.shards & ~bit);
  } else {
    std::unique_ptr<SharedInterest>& si = in.shared[u.share_name];
    if (!si) {
      si = std::make_unique<SharedInterest>();
      si->members.assign(shards_, 0);
      si->online.assign(shards_, 0);
      si->hash = SharedGroupHash(u.share_name, u.filter);
      interest_by_hash_[si->hash] = si.get();
    }
    si->total = si->total - si->members[u.shard] + u.count;
    si->members[u.shard] = u.count;
    si->total_online = si->total_online - si->online[u.shard] + u.online;
    si->online[u.shard] = u.online;
    if (si->total == 0) {
      interest_by_hash_.erase(si->hash);
      in.shared.erase(u.share_name);
    }
  }
  if (in.empty()) {
    interest_.Erase(u.filter);
  }
}

void BrokerShard::RequestRetained(Connection& c, PendingResponse& suback,
                                  std::vector<RetainedFilter> filters) {
  const uint64_t id = NewToken();
  auto req = std::make_unique<RetainedRequest>();
  req->conn = c.conn->id();
  req->results.resize(filters.size());
  // Scatter: a wildcard filter to every shard, an exact one to its topic's partition.
  std::vector<std::unique_ptr<RetainedQuery>> queries(shards_);
  for (uint32_t i = 0; i < filters.size(); ++i) {
    const std::string& f = filters[i].filter;
    auto ask = [&](uint32_t t) {
      if (t == shard_.index()) {
        MatchRetained(f, &req->results[i]);
        return;
      }
      if (!queries[t]) {
        queries[t] = std::make_unique<RetainedQuery>();
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
    if (!queries[t]) {
      continue;
    }
    shard::Envelope e;
    e.kind = kRetainedQuery;
    e.ptr = queries[t].release();
    shard_.Send(t, e);
    ++req->waiting;
  }
  req->filters = std::move(filters);
  suback.retained_request = id;
  retained_requests_.emplace(id, std::move(req));
}

void BrokerShard::HandleRetainedQuery(const RetainedQuery& q) {
  auto reply = std::make_unique<RetainedReply>();
  reply->request = q.request;
  for (const auto& [index, filter] : q.filters) {
    std::vector<MessageRef> found;
    MatchRetained(filter, &found);
    if (!found.empty()) {
      reply->matches.emplace_back(index, std::move(found));
    }
  }
  shard::Envelope e;
  e.kind = kRetainedReply;
  e.ptr = reply.release();
  // Reply to the shard whose request id this is (the id carries the shard in its top byte).
  shard_.Send(static_cast<uint32_t>(q.request >> 56), e);
}

void BrokerShard::HandleRetainedReply(RetainedReply& r) {
  auto it = retained_requests_.find(r.request);
  if (it == retained_requests_.end()) {
    return;
  }
  RetainedRequest& req = *it->second;
  for (auto& [index, found] : r.matches) {
    auto& dst = req.results[index];
    for (MessageRef& m : found) {
      dst.push_back(std::move(m));
    }
  }
  if (req.waiting > 0) {
    --req.waiting;
  }
  MaybeSendRetained(r.request);
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
  if (c != nullptr && c->session != nullptr && c->state == Connection::State::kConnected) {
    Session& s = *c->session;
    for (size_t i = 0; i < req.filters.size(); ++i) {
      const RetainedFilter& f = req.filters[i];
      if (!s.subscriptions.contains(f.filter)) {
        continue;  // unsubscribed meanwhile: nothing new for it [MQTT-3.10.4-2]
      }
      for (const MessageRef& m : req.results[i]) {
        // Sent because of a new subscription: RETAIN 1 [MQTT-3.3.1-8 (3.1.1)].
        PublishEncoder enc(*m, now_ms());
        DeliverToSession(s, m, mqtt::MinQos(m->qos(), f.granted), /*retain=*/true,
                         f.subscription_id, 0, &enc);
      }
    }
  }
  retained_requests_.erase(it);
}

}  // namespace ringmq::broker
