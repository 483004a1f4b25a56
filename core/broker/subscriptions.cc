// SUBSCRIBE and UNSUBSCRIBE: the session's subscriptions, this shard's subscribers in the
// router, the interest updates that make every shard route to them, shared-group presence.
#include <algorithm>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

using mqtt::Qos;
using mqtt::ReasonCode;

namespace {

// The code for a subscription the broker does not take for a limit: 5.0 Quota exceeded,
// 3.x Failure [MQTT-3.9.3-2 (3.1.1)].
ReasonCode QuotaRefusal(mqtt::ProtocolVersion v) {
  return mqtt::IsV5(v) ? ReasonCode::kQuotaExceeded : ReasonCode::kUnspecifiedError;
}

}  // namespace

void BrokerShard::HandleSubscribe(Connection& c, const mqtt::Subscribe& p) {
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kSuback, p.packet_id);
  auto pending = std::make_unique<PendingSubscribe>();
  pending->subscription_id = p.properties.subscription_identifier;  // 0: none
  for (const mqtt::Subscription& sub : p.subscriptions) {
    pending->entries.push_back({std::string(sub.filter), sub.options});
  }
  r.subscribe = std::move(pending);
  // The authorisation of each filter; nothing takes effect before every one is decided.
  if (hooks() != nullptr) {
    const ClientInfo ci = ClientInfoOf(c);
    for (size_t i = 0; i < p.subscriptions.size(); ++i) {
      const mqtt::Subscription& sub = p.subscriptions[i];
      const uint64_t ticket = NewToken();
      const Decision d = hooks()->OnSubscribe({ci, sub.filter, sub.options.max_qos}, ticket);
      AskDecision(c, r, d, ticket, static_cast<int>(i));
    }
  }
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
  for (size_t i = 0; i < pending->entries.size(); ++i) {
    const PendingSubscribe::Entry& sub = pending->entries[i];
    if (i >= config().max_filters_per_subscribe) {
      ShardCounters::Add(counters().refused_filters, 1);
      r.codes.push_back(QuotaRefusal(c.version));
      continue;
    }
    if (sub.denied != ReasonCode::kSuccess) {
      // Refused by its decision: 5.0 says why (0x87 Not authorized, usually); 3.x 0x80.
      r.codes.push_back(mqtt::IsV5(c.version) ? sub.denied : ReasonCode::kUnspecifiedError);
      continue;
    }
    const bool shared = mqtt::IsSharedFilter(sub.filter);
    std::string_view inner = sub.filter;
    if (shared) {
      mqtt::SharedFilter sf;
      (void)mqtt::ParseSharedFilter(sub.filter, &sf);  // validated by the decoder
      inner = sf.filter;
    }
    if (mqtt::TopicLevelCount(inner) > config().max_topic_levels) {
      r.codes.push_back(ReasonCode::kTopicFilterInvalid);  // well-formed, but not accepted
      continue;
    }
    if (s.persistent() && !StoreAccepting()) {
      r.codes.push_back(QuotaRefusal(c.version));  // it could not outlive a restart
      continue;
    }
    if (s.subscriptions.size() >= config().max_subscriptions_per_session &&
        !HasSubscription(s, sub.filter)) {
      ShardCounters::Add(counters().refused_subscriptions, 1);
      r.codes.push_back(QuotaRefusal(c.version));
      continue;
    }
    const bool existed =
        AddSubscription(c, s, sub.filter, sub.options, pending->subscription_id, r);
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

bool BrokerShard::HasSubscription(const Session& s, std::string_view filter) const {
  const SubRef r = router_.FindRef(filter);
  return r && s.subscriptions.contains(r.bits());
}

bool BrokerShard::AddSubscription(Connection& c, Session& s, std::string_view filter,
                                  const mqtt::SubscriptionOptions& o, uint32_t subscription_id,
                                  PendingResponse& r) {
  uint64_t wait_seq = 0;
  const SubRef ref = mqtt::IsSharedFilter(filter)
                         ? AddShared(s, filter, o, subscription_id, &wait_seq)
                         : AddPlain(s, filter, o, subscription_id, &wait_seq);
  const bool inserted = s.subscriptions.insert(ref.bits()).second;
  // The SUBACK waits until every shard routes matching messages here, so a publish made
  // after it, from any connection, reaches this subscription.
  AwaitInterest(c, r, wait_seq);
  if (inserted) {
    ShardCounters::Add(counters().subscriptions, 1);
  }
  if (s.persistent() &&
      store().SubscriptionAdded(s.client_id(), {filter, o, subscription_id}, r.token)) {
    AwaitParts(c, r, 1);  // the SUBACK waits for the subscription to be durable
  }
  return !inserted;
}

namespace {

// The entry for `s` in `list`, or nullptr.
template <typename List>
Subscriber* FindSubscriber(List& list, const Session& s) {
  for (Subscriber& x : list) {
    if (x.session == &s) {
      return &x;
    }
  }
  return nullptr;
}

template <typename List>
void RemoveSubscriber(List& list, const Session& s) {
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&s](const Subscriber& x) { return x.session == &s; }),
             list.end());
}

}  // namespace

SubRef BrokerShard::AddPlain(Session& s, std::string_view filter,
                             const mqtt::SubscriptionOptions& o, uint32_t subscription_id,
                             uint64_t* wait_seq) {
  FilterNode* n = router_.Node(filter);
  FilterNodeExtra& e = Router::Extra(n);
  if (Subscriber* x = FindSubscriber(e.local, s)) {
    x->options = o;  // replaced in place: no message lost in the swap [MQTT-3.8.4-3]
    x->subscription_id = subscription_id;
  } else {
    e.local.push_back({&s, o, subscription_id});
    if (e.local.size() == 1) {
      // The first subscriber on this shard makes the other shards route the filter here.
      const InterestUpdate u{std::string(filter), {}, 1, 0};
      e.announced_seq = interest_.Announce(u);
      router_.ApplyInterest(shard_.index(), u);
    }
  }
  // No SUBACK before that news reached every shard (also for a later subscriber).
  *wait_seq = e.announced_seq;
  return SubRef::Plain(n);
}

SubRef BrokerShard::AddShared(Session& s, std::string_view filter,
                              const mqtt::SubscriptionOptions& o, uint32_t subscription_id,
                              uint64_t* wait_seq) {
  mqtt::SharedFilter sf;
  (void)mqtt::ParseSharedFilter(filter, &sf);
  SharedGroup& g = router_.Group({sf.share_name, sf.filter});
  if (Subscriber* x = FindSubscriber(g.local, s)) {
    x->options = o;  // [MQTT-3.8.4-4]
    x->subscription_id = subscription_id;
  } else {
    g.local.push_back({&s, o, subscription_id});
    AnnounceGroup(g);
  }
  *wait_seq = g.announced_seq;
  return SubRef::Shared(&g);
}

void BrokerShard::AwaitInterest(Connection& c, PendingResponse& r, uint64_t seq) {
  if (seq != 0 && interest_.AwaitApplied(seq, r.token)) {
    AwaitParts(c, r, 1);
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

bool BrokerShard::RemoveSubscription(Session& s, std::string_view filter) {
  const SubRef ref = router_.FindRef(filter);
  if (!ref || !s.subscriptions.contains(ref.bits())) {
    return false;
  }
  if (s.persistent()) {
    store().SubscriptionRemoved(s.client_id(), filter, 0);
  }
  RemoveSubscription(s, ref);
  return true;
}

void BrokerShard::RemoveSubscription(Session& s, SubRef ref) {
  s.subscriptions.erase(ref.bits());
  ShardCounters::Sub(counters().subscriptions, 1);
  if (ref.shared()) {
    SharedGroup* g = ref.group();
    RemoveSubscriber(g->local, s);
    AnnounceGroup(*g);  // may drop the group: the last use of `g`
    return;
  }
  FilterNode* n = ref.node();
  FilterNodeExtra& e = Router::Extra(n);
  RemoveSubscriber(e.local, s);
  if (e.local.empty()) {
    // No more matching messages for this shard [MQTT-3.10.4-2]. A few may still arrive
    // before the other shards hear it; the local match no longer finds anybody for them.
    const InterestUpdate u{SubscriptionTrie::FilterOf(n), {}, 0, 0};
    e.announced_seq = interest_.Announce(u);
    router_.ApplyInterest(shard_.index(), u);  // may drop the node: the last use of `n`
  }
}

void BrokerShard::RemoveAllSubscriptions(Session& s) {
  const std::vector<uintptr_t> refs(s.subscriptions.begin(), s.subscriptions.end());
  for (uintptr_t bits : refs) {
    RemoveSubscription(s, SubRef::FromBits(bits));
  }
}

void BrokerShard::AnnounceGroup(SharedGroup& g) {
  const SharedGroupKeyRef key = g.key;  // the group may go in ApplyInterest
  const InterestUpdate u{std::string(key->filter()), std::string(key->share_name()),
                         static_cast<uint32_t>(g.local.size()), g.LocalOnline()};
  g.announced_online = u.online;
  g.announced_seq = interest_.Announce(u);
  router_.ApplyInterest(shard_.index(), u);  // last: drops the group when nothing is left
}

void BrokerShard::AnnouncePresence(const Session& s) {
  for (uintptr_t bits : s.subscriptions) {
    const SubRef ref = SubRef::FromBits(bits);
    if (ref.shared() && ref.group()->LocalOnline() != ref.group()->announced_online) {
      AnnounceGroup(*ref.group());
    }
  }
}

}  // namespace ringmq::broker
