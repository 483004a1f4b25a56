// CONNECT and CONNACK, takeover, the start, resumption and end of sessions, wills, keep alive,
// and the end of connections.
#include <errno.h>

#include <algorithm>

#include "absl/strings/str_format.h"

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/decoder.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/topic.h"

namespace ringmq::broker {

using mqtt::ProtocolVersion;
using mqtt::ReasonCode;

void BrokerShard::HandleAwaitConnect(Connection& c) {
  const std::string& held = c.Held();
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  mqtt::FixedHeader h;
  switch (mqtt::ParseFixedHeader(all, config().max_packet_size, &h)) {
    case mqtt::FrameStatus::kNeedMore:
      return;
    case mqtt::FrameStatus::kMalformed:
    case mqtt::FrameStatus::kTooLarge:
      // The version is not known yet, so no CONNACK can be chosen: close.
      LogConnectionClosedBeforeConnect(c, "malformed or too large first packet");
      CloseConnection(c, net::CloseMode::kNow, -EPROTO);
      return;
    case mqtt::FrameStatus::kOk:
      break;
  }
  if (h.type != mqtt::PacketType::kConnect) {
    LogConnectionClosedBeforeConnect(
        c, absl::StrFormat("%s before CONNECT [MQTT-3.1.0-1]", mqtt::PacketTypeName(h.type)));
    CloseConnection(c, net::CloseMode::kNow, -EPROTO);
    return;
  }
  if (all.size() < h.packet_size()) {
    return;
  }
  mqtt::Connect pkt;
  mqtt::DecodeStatus s =
      mqtt::DecodeConnect(h, all.subspan(h.header_size, h.remaining_length), &pkt);
  if (!s.ok()) {
    RefuseConnect(c, pkt.version, s.reason, s.detail);
    return;
  }
  c.last_packet_ms = now_ms();
  std::string id(pkt.client_id);
  bool assigned = false;
  if (id.empty()) {
    const bool may_assign = config().allow_empty_client_id &&
                            (pkt.version == ProtocolVersion::kMqtt5 ||
                             (pkt.version == ProtocolVersion::kMqtt311 && pkt.clean_start));
    if (!may_assign) {
      RefuseConnect(c, pkt.version, ReasonCode::kClientIdentifierNotValid,
                    "empty client id needs a clean session [MQTT-3.1.3-8 (3.1.1)]");
      return;
    }
    id = AssignClientId();
    assigned = true;
  } else if (id.size() > config().max_client_id_bytes) {
    RefuseConnect(c, pkt.version, ReasonCode::kClientIdentifierNotValid, "client id too long");
    return;
  }
  const uint32_t home = HomeShard(id, shards_);
  if (home != shard_.index()) {
    // The session lives on another shard: the socket moves there with every byte received so
    // far (the CONNECT is decoded again on arrival). This Connection ends here.
    std::unique_ptr<std::string> bytes = std::move(c.held);
    net::Conn* nc = c.conn;
    shard_.timers().Cancel(&c.timer);
    nc->set_user(nullptr);
    delete &c;
    ShardCounters::Sub(counters().connections, 1);
    shard_.HandOff(*nc, home,
                   std::span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()), 0);
    return;
  }
  if (assigned) {
    c.assigned_id = std::make_unique<std::string>(std::move(id));
  }
  ProcessConnect(c, pkt);
}

void BrokerShard::ProcessConnect(Connection& c, const mqtt::Connect& pkt) {
  c.version = pkt.version;
  const bool v5 = mqtt::IsV5(c.version);
  const bool enhanced = v5 && pkt.properties.Has(mqtt::PropertyId::kAuthenticationMethod);
  if (enhanced && (hooks() == nullptr || !hooks()->OffersEnhancedAuth())) {
    // No enhanced-authentication method is configured [MQTT-4.12.0-1].
    RefuseConnect(c, c.version, ReasonCode::kBadAuthenticationMethod,
                  "authentication method not supported");
    return;
  }
  if (pkt.will) {
    // The will obeys the rules of a PUBLISH from this client; one it could never publish
    // refuses the CONNECT now rather than vanishing later.
    const TopicRefusal r = CheckPublishTopic(pkt.will->topic);
    if (r.reason != ReasonCode::kSuccess) {
      RefuseConnect(c, c.version, r.reason, r.why);
      return;
    }
  }
  uint16_t ka = pkt.keep_alive_s;
  const uint16_t max_ka = static_cast<uint16_t>(config().max_keepalive_s);
  if (max_ka > 0 && (ka == 0 || ka > max_ka)) {
    ka = max_ka;
    c.keepalive_lowered = true;
  }
  c.keepalive_s = ka;
  c.keepalive_ms = uint32_t{ka} * 1500;  // [MQTT-3.1.2-22]: 1.5 times the keep alive
  c.clean_start = pkt.clean_start;
  if (v5) {
    const mqtt::Properties& p = pkt.properties;
    if (p.Has(mqtt::PropertyId::kReceiveMaximum)) {
      c.client_receive_maximum = p.receive_maximum;
    }
    if (p.Has(mqtt::PropertyId::kMaximumPacketSize)) {
      c.client_max_packet_size = p.maximum_packet_size;
    }
    if (p.Has(mqtt::PropertyId::kTopicAliasMaximum)) {
      c.client_topic_alias_max = p.topic_alias_maximum;
    }
    // Request Problem Information 0 [MQTT-3.1.2-29] needs nothing: ringmq sends Reason
    // Strings and User Properties only on CONNACK and DISCONNECT, where they stay allowed.
    c.connect_session_expiry_s = p.session_expiry_interval_s;
  }
  // A listener that takes the user name from the client certificate: the certificate's, not
  // the CONNECT's (a client cannot claim another's name).
  const net::Transport* t = c.conn->transport();
  if (const std::string_view identity = t != nullptr ? t->PeerIdentity() : std::string_view();
      !identity.empty()) {
    c.username = std::make_unique<std::string>(identity);
  } else if (pkt.username.has_value()) {
    c.username = std::make_unique<std::string>(*pkt.username);
  }
  c.state = Connection::State::kAuthorizing;
  if (enhanced) {
    StartEnhancedAuth(c, pkt);  // the CONNACK waits for the exchange
    return;
  }
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kConnack, 0);
  AskConnectDecisions(c, r, pkt);
  Defer(c, r);
  FlushResponses(c);
}

void BrokerShard::AskConnectDecisions(Connection& c, PendingResponse& r, const mqtt::Connect& pkt) {
  if (hooks() == nullptr) {
    return;
  }
  ClientInfo ci = ClientInfoOf(c);
  ci.client_id = c.assigned_id ? std::string_view(*c.assigned_id) : pkt.client_id;
  if (c.auth == nullptr) {  // else its enhanced authentication stood for this decision
    ConnectRequest req{ci, pkt.password.value_or(std::string_view()), pkt.password.has_value(),
                       pkt.clean_start};
    const uint64_t t = NewToken();
    AskDecision(c, r, hooks()->OnConnect(req, t), t, -1);
  }
  if (pkt.will) {
    // The will is a PUBLISH of this client's, decided with the CONNECT.
    const uint64_t tw = NewToken();
    const PublishRequest will{
        ci, pkt.will->topic, pkt.will->payload, pkt.will->qos, pkt.will->retain, true};
    AskDecision(c, r, hooks()->OnPublish(will, tw), tw, -1);
  }
}

mqtt::FixedHeader BrokerShard::HeldConnect(Connection& c, mqtt::Connect* pkt) {
  // Decoded once already when it arrived, so this succeeds.
  const std::string& held = c.Held();
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  mqtt::FixedHeader h;
  (void)mqtt::ParseFixedHeader(all, config().max_packet_size, &h);
  if (pkt != nullptr) {
    (void)mqtt::DecodeConnect(h, all.subspan(h.header_size, h.remaining_length), pkt);
  }
  return h;
}

void BrokerShard::FinishConnect(Connection& c, const PendingResponse& r) {
  if (r.denied) {
    // 3.x has return codes for these refusals only (2, 4, 3, 3); anything else is "not
    // authorized" (5).
    const ReasonCode rc =
        mqtt::IsV5(c.version) || r.reason == ReasonCode::kClientIdentifierNotValid ||
                r.reason == ReasonCode::kBadUserNameOrPassword ||
                r.reason == ReasonCode::kServerUnavailable || r.reason == ReasonCode::kServerBusy
            ? r.reason
            : ReasonCode::kNotAuthorized;
    RefuseConnect(c, c.version, rc, "refused by the authentication decision");
    return;
  }
  mqtt::Connect pkt;
  const mqtt::FixedHeader h = HeldConnect(c, &pkt);
  const bool v5 = mqtt::IsV5(c.version);
  const std::string client_id =
      c.assigned_id ? std::move(*c.assigned_id) : std::string(pkt.client_id);
  const bool assigned = c.assigned_id != nullptr;
  c.assigned_id.reset();

  bool present = false;
  Session* s = AttachSession(c, client_id, &present);
  if (s == nullptr) {
    ShardCounters::Add(counters().refused_sessions, 1);
    RefuseConnect(c, c.version, v5 ? ReasonCode::kQuotaExceeded : ReasonCode::kServerUnavailable,
                  "session limit reached (--max-sessions)");
    return;
  }
  const uint32_t expiry =
      v5 ? c.connect_session_expiry_s : (c.clean_start ? 0 : config().session_expiry_v3_s);
  const bool expiry_capped = v5 && expiry > config().max_session_expiry_s;
  const bool was_persistent = present && s->persistent();
  s->expiry_s = std::min(expiry, config().max_session_expiry_s);
  if (was_persistent && !s->persistent()) {
    store().SessionEnded(s->client_id(), 0);  // it ends with this connection now
  }
  // A resumed session's write is also its store barrier (AwaitResumeBarrier).
  const bool resume_waits = present && AwaitResumeBarrier(c, *s);
  if (!present) {
    StoreSession(*s);
  }
  SetWill(*s, pkt);
  StoreWill(*s);
  WriteConnack(c, *s, present, assigned, expiry_capped);
  c.state = Connection::State::kConnected;
  ShardCounters::Add(counters().clients, 1);
  if (hooks() != nullptr) {
    hooks()->OnClientConnected(ClientInfoOf(c));
  }
  if (c.keepalive_ms > 0) {
    shard_.timers().Schedule(&c.timer, now_ms() + c.keepalive_ms);
  } else {
    shard_.timers().Cancel(&c.timer);
  }
  c.held->erase(0, h.packet_size());
  // A resumed session: unacknowledged messages again, with DUP [MQTT-4.4.0-1], then
  // whatever waited while the client was away.
  if (present) {
    s->MarkAllUnsent();
    if (resume_waits) {
      return;  // sent once the barrier is durable (ResponsePartDone)
    }
  }
  SendQueued(*s);
}

// What the session's previous connection wrote may not be durable yet (a PUBLISH's packet id,
// a release, a PUBREC): answering the new connection from memory before it is could, after a
// crash, turn a completed QoS 2 exchange into a lost or duplicated message. The resumed
// session's own write carries a token and commits after all the earlier writes of this shard
// (the writer commits a shard's writes in order): until then the client's packets wait
// (blocked) and nothing of the session is sent. Returns whether it waits. Placed in the
// response queue behind the CONNACK, which goes out at once.
bool BrokerShard::AwaitResumeBarrier(Connection& c, const Session& s) {
  if (!s.persistent() || !shared_.store->durable()) {
    return false;
  }
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kNone, 0);
  if (!store().SessionUpdated({s.client_id(), s.version, s.expiry_s}, r.token)) {
    return false;
  }
  r.resume = true;
  AwaitParts(c, r, 1);
  c.blocked = true;
  c.resume_pending = true;
  return true;
}

Session* BrokerShard::AttachSession(Connection& c, const std::string& client_id, bool* present) {
  // 1. Another connection with this client id: it is taken over [MQTT-3.1.4-3]. When the new
  //    connection continues the session, the old one's will is not published: the client is
  //    back, which is what a will delay is for [MQTT-3.1.3-9] (decision and reasons in
  //    docs/architecture.md, "Takeover"); a clean start ends the session, and the will goes.
  auto it = sessions_.find(std::string_view(client_id));
  if (it != sessions_.end() && (*it)->connection != nullptr) {
    Connection* old = (*it)->connection;
    const bool publish_will = c.clean_start || config().takeover_publishes_will;
    RINGMQ_LOG(kDebug, "client %s: session taken over by a new connection", client_id);
    Disconnect(*old, ReasonCode::kSessionTakenOver, "session taken over", publish_will);
    it = sessions_.find(std::string_view(client_id));  // the old session may have ended with it
  }
  // 2. Clean start ends any existing session [MQTT-3.1.2-4]; otherwise resume it
  //    [MQTT-3.1.2-5] or start a new one [MQTT-3.1.2-6].
  if (it != sessions_.end() && c.clean_start) {
    EndSession(**it);
    it = sessions_.end();
  }
  Session* s;
  if (it != sessions_.end()) {
    s = it->get();
    *present = true;
    if (s->timers) {
      shard_.timers().Cancel(&s->timers->expiry);
      shard_.timers().Cancel(&s->timers->will);  // back in time: no will [MQTT-3.1.3-9]
    }
    s->will.reset();
  } else {
    if (shared_.sessions_total.fetch_add(1, std::memory_order_relaxed) >= config().max_sessions) {
      shared_.sessions_total.fetch_sub(1, std::memory_order_relaxed);
      return nullptr;
    }
    auto fresh = std::make_unique<Session>(client_id, shard_.index());
    s = fresh.get();
    sessions_.insert(std::move(fresh));
    ShardCounters::Add(counters().sessions, 1);
  }
  s->connection = &c;
  c.session = s;
  s->version = c.version;
  AnnouncePresence(*s);  // a resumed member of shared groups can take messages again
  return s;
}

void BrokerShard::SetWill(Session& s, const mqtt::Connect& pkt) {
  if (!pkt.will) {
    return;
  }
  auto w = std::make_unique<WillMessage>();
  w->topic = std::string(pkt.will->topic);
  w->payload = std::string(pkt.will->payload);
  w->qos = pkt.will->qos;
  w->retain = pkt.will->retain;
  if (mqtt::IsV5(s.version)) {
    mqtt::Properties fp = pkt.will->properties;
    w->delay_s = fp.will_delay_interval_s;
    w->has_message_expiry = fp.Has(mqtt::PropertyId::kMessageExpiryInterval);
    w->message_expiry_s = fp.message_expiry_interval_s;
    fp.Clear(mqtt::PropertyId::kWillDelayInterval);
    fp.Clear(mqtt::PropertyId::kMessageExpiryInterval);
    w->forward_properties.resize(mqtt::PropertiesSize(fp));
    mqtt::EncodePropertyBytes(reinterpret_cast<uint8_t*>(w->forward_properties.data()), fp);
  }
  s.will = std::move(w);  // stored with the session [MQTT-3.1.2-7]
}

void BrokerShard::WriteConnack(Connection& c, const Session& s, bool present, bool assigned,
                               bool expiry_capped) {
  mqtt::Connack ack;  // [MQTT-3.2.2-2/3]
  ack.session_present = present;
  if (mqtt::IsV5(c.version)) {
    mqtt::Properties& p = ack.properties;
    if (config().max_inflight != 65535) {
      p.SetReceiveMaximum(static_cast<uint16_t>(config().max_inflight));
    }
    p.SetMaximumPacketSize(config().max_packet_size);
    if (config().max_topic_alias > 0) {
      p.SetTopicAliasMaximum(static_cast<uint16_t>(config().max_topic_alias));
    }
    if (assigned) {
      p.SetAssignedClientIdentifier(s.client_id());  // [MQTT-3.1.3-7], [MQTT-3.2.2-16]
    }
    if (c.keepalive_lowered) {
      p.SetServerKeepAlive(c.keepalive_s);  // [MQTT-3.1.2-21]
    }
    if (expiry_capped) {
      p.SetSessionExpiryInterval(s.expiry_s);
    }
    if (c.auth != nullptr) {  // the method [MQTT-4.12.0-5], and the last step's data
      p.SetAuthenticationMethod(c.auth->method);
      if (!c.auth->connack_data.empty()) {
        p.SetAuthenticationData(c.auth->connack_data);
      }
    }
  }
  Write(c, ack);
}

void BrokerShard::RefuseConnect(Connection& c, ProtocolVersion v, ReasonCode rc,
                                std::string_view why) {
  LogConnectRefused(c, v, rc, why);
  c.version = v;
  bool answer = false;
  if (mqtt::IsV5(v)) {
    answer = true;  // 5.0 may say why with a CONNACK [MQTT-3.2.2-8], [MQTT-4.13.1-1]
  } else {
    // 3.x: CONNACK only for the few return codes it has; a malformed CONNECT is closed
    // without one [MQTT-3.1.4-1 (3.1.1)].
    answer = rc == ReasonCode::kUnsupportedProtocolVersion ||
             rc == ReasonCode::kClientIdentifierNotValid ||
             rc == ReasonCode::kBadUserNameOrPassword || rc == ReasonCode::kNotAuthorized ||
             rc == ReasonCode::kServerUnavailable || rc == ReasonCode::kServerBusy ||
             rc == ReasonCode::kBanned;
  }
  if (answer) {
    mqtt::Connack ack;
    ack.reason = rc;
    if (mqtt::IsV5(v)) {
      ack.properties.SetReasonString(why);
    }
    Write(c, ack);
  }
  CloseConnection(c, net::CloseMode::kAfterFlush, -EPROTO);
}

void BrokerShard::Disconnect(Connection& c, ReasonCode rc, std::string_view why,
                             bool publish_will) {
  if (c.state == Connection::State::kClosing) {
    return;
  }
  const bool connected = c.state == Connection::State::kConnected;
  if (connected && mqtt::IsV5(c.version)) {
    // Only after a successful CONNACK [MQTT-3.14.0-1]; never a Session Expiry Interval
    // [MQTT-3.14.2-2].
    mqtt::Disconnect d;
    d.reason = rc;
    if (!why.empty()) {
      d.properties.SetReasonString(why);
    }
    Write(c, d);
  }
  if (connected) {
    ConnectionGone(c, publish_will);
  }
  // Nothing more is sent after DISCONNECT [MQTT-3.14.4-1], then the connection closes
  // [MQTT-3.14.4-2].
  CloseConnection(c, net::CloseMode::kAfterFlush, 0);
}

void BrokerShard::CloseConnection(Connection& c, net::CloseMode mode, int err) {
  c.state = Connection::State::kClosing;
  DropResponses(c);
  shard_.timers().Cancel(&c.timer);
  shard_.reactor().Close(*c.conn, mode, err);
}

void BrokerShard::ProtocolViolation(Connection& c, ReasonCode rc, std::string_view why) {
  RINGMQ_LOG_EVERY_S(kInfo, 1, "client %s: %s (%s); closing the connection", ClientId(c),
                     mqtt::ReasonCodeName(rc), why);
  Disconnect(c, rc, why, /*publish_will=*/true);
}

void BrokerShard::ConnectionGone(Connection& c, bool publish_will) {
  Session* s = c.session;
  if (s == nullptr) {
    return;
  }
  if (hooks() != nullptr) {
    hooks()->OnClientDisconnected(ClientInfoOf(c));
  }
  c.session = nullptr;
  s->connection = nullptr;
  // Before its messages are redistributed (below, or as its session ends): they go to
  // connected members.
  AnnouncePresence(*s);
  ShardCounters::Sub(counters().clients, 1);
  c.inbound_aliases.reset();  // aliases belong to the connection [MQTT-3.3.2-7]
  c.outbound_aliases.reset();
  for (uint64_t request : std::vector<uint64_t>(s->retained_fetches)) {
    ForgetRetainedRequest(request);  // retained messages go only to this connection
  }
  if (s->will) {
    if (!publish_will || c.will_suppressed) {
      s->will.reset();  // normal DISCONNECT [MQTT-3.1.2-10], [MQTT-3.14.4-3]
      StoreWill(*s);
    } else if (s->will->delay_s > 0 && s->expiry_s > 0) {
      // Published when the delay passes or the session ends, whichever is first
      // [MQTT-3.1.2-8]; a reconnection before then cancels it [MQTT-3.1.3-9].
      shard_.timers().Schedule(&SessionTimers(*s).will,
                               now_ms() + int64_t{s->will->delay_s} * 1000);
    } else {
      PublishWill(*s);
    }
  }
  if (s->expiry_s == 0) {
    EndSession(*s);  // [MQTT-4.1.0-2]
    return;
  }
  store().SessionOffline(s->client_id(), 0);  // its expiry counts from now, across restarts
  ScheduleSessionExpiry(*s);
  RedistributeShared(*s, /*ending=*/false);
}

void BrokerShard::ScheduleSessionExpiry(Session& s, int64_t away_ms) {
  if (s.expiry_s == UINT32_MAX) {
    return;  // never expires
  }
  const int64_t left_ms = std::max<int64_t>(0, int64_t{s.expiry_s} * 1000 - away_ms);
  shard_.timers().Schedule(&SessionTimers(s).expiry, now_ms() + left_ms);
}

void BrokerShard::OnSessionExpiry(net::Timer* t) {
  auto* st = static_cast<SessionTimer*>(t);
  st->broker->AssertOnOwnShard();
  if (st->session->connection == nullptr) {
    st->broker->EndSession(*st->session);  // [MQTT-4.1.0-2]
  }
}

void BrokerShard::OnWillDelay(net::Timer* t) {
  auto* st = static_cast<SessionTimer*>(t);
  st->broker->AssertOnOwnShard();
  st->broker->PublishWill(*st->session);
}

Session::Timers& BrokerShard::SessionTimers(Session& s) {
  if (!s.timers) {
    s.timers = std::make_unique<Session::Timers>(this, &s, &BrokerShard::OnSessionExpiry,
                                                 &BrokerShard::OnWillDelay);
  }
  return *s.timers;
}

void BrokerShard::EndSession(Session& s) {
  // A delayed will still waiting is published now: the session ended first [MQTT-3.1.2-8].
  if (s.will && s.timers && s.timers->will.armed()) {
    shard_.timers().Cancel(&s.timers->will);
    PublishWill(s);
  }
  RedistributeShared(s, /*ending=*/true);
  // The session's rows go with it (SessionEnded): no later "done" for them may reach a new
  // session of the same client id.
  absl::erase_if(handoff_dones_, [&](const auto& h) { return h.second.first == s.client_id(); });
  RemoveAllSubscriptions(s);
  while (s.queue_size() > 0) {
    Done(s, TakeQueued(s, 0).seq);
  }
  if (s.persistent()) {
    store().SessionEnded(s.client_id(), 0);  // with its subscriptions and messages
  }
  ShardCounters::Sub(counters().sessions, 1);
  shared_.sessions_total.fetch_sub(1, std::memory_order_relaxed);
  auto it = sessions_.find(std::string_view(s.client_id()));
  sessions_.erase(it);  // destroys `s` (its timers unlink themselves)
}

void BrokerShard::PublishWill(Session& s) {
  std::unique_ptr<WillMessage> w = std::move(s.will);
  if (!w) {
    return;
  }
  StoreWill(s);  // published: not kept any more
  if (CheckPublishTopic(w->topic).reason != ReasonCode::kSuccess) {
    return;  // the rules of a PUBLISH, again at the time it would be published
  }
  MessageInit init;
  init.topic = w->topic;
  init.payload = w->payload;
  init.forward_properties = w->forward_properties;
  init.publisher_id = s.client_id();
  init.qos = w->qos;
  init.retain = w->retain;  // [MQTT-3.1.2-14/15]
  init.id = NewMessageId();
  init.store_refused = !StoreAccepting();
  if (w->has_message_expiry) {
    init.expiry_deadline_ms = now_ms() + int64_t{w->message_expiry_s} * 1000;
  }
  ShardCounters::Add(counters().messages_in, 1);
  ShardCounters::Add(counters().messages_in_by_qos[static_cast<size_t>(init.qos)], 1);
  Route(Message::Create(init), nullptr);
}

std::string BrokerShard::AssignClientId() {
  // Random ids until one hashes to this shard: an assigned client's session is local, so its
  // connection never moves (and the id is the same on every look-up).
  for (;;) {
    uint64_t x = static_cast<uint64_t>(now_ms()) * 0x9E3779B97F4A7C15ull ^
                 (uint64_t{shard_.index()} << 48) ^ ++assigned_ids_ * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    std::string id = absl::StrFormat("ringmq-%016x", x);
    if (HomeShard(id, shards_) == shard_.index() && !sessions_.contains(std::string_view(id))) {
      return id;
    }
  }
}

void BrokerShard::OnConnectionTimer(net::Timer* t) {
  Connection* c = static_cast<ConnectionTimer*>(t)->conn;
  c->shard->AssertOnOwnShard();
  c->shard->KeepAliveFired(*c);
}

void BrokerShard::KeepAliveFired(Connection& c) {
  switch (c.state) {
    case Connection::State::kAwaitConnect:
    case Connection::State::kAuthorizing:
      RINGMQ_LOG(kDebug, "connection without CONNECT for %d s; closing",
                 config().connect_timeout_s);
      CloseConnection(c, net::CloseMode::kNow, -ETIMEDOUT);
      return;
    case Connection::State::kConnected: {
      if (c.keepalive_ms == 0) {
        return;
      }
      if (c.read_holds != 0) {
        // The broker is not reading from this client: its silence is ours, not its own.
        // ReleaseReading credits the time when reading resumes.
        shard_.timers().Schedule(&c.timer, now_ms() + c.keepalive_ms);
        return;
      }
      const int64_t due = c.last_packet_ms + c.keepalive_ms;
      if (now_ms() >= due) {
        Disconnect(c, ReasonCode::kKeepAliveTimeout, "keep alive timeout",
                   /*publish_will=*/true);  // a network failure [MQTT-3.1.2-22]
        return;
      }
      // Packets arrived since the timer was set: look again when the silence could end.
      shard_.timers().Schedule(&c.timer, due);
      return;
    }
    case Connection::State::kClosing:
      return;
  }
}

}  // namespace ringmq::broker
