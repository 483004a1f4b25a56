// BrokerShard: the MQTT broker on one shard (the ShardApp of core/shard). Shard-local.
//
// It owns this shard's connections, the sessions whose home shard this is (hash of the
// client id: after CONNECT a connection moves to its session's home shard, so takeover and
// QoS state are always shard-local), the Router (every shard's interest and this shard's
// subscribers, router.h), the InterestReplicator (interest.h), and this shard's partition of
// the retained messages (retained_store.h).
//
// Its methods live in one file per room, named after what happens there:
//   broker_shard.cc       engine events, cross-shard message dispatch, lifecycle
//   packet_intake.cc      bytes in: the read pump, holding input, dispatch by packet type
//   session_lifecycle.cc  CONNECT/CONNACK, takeover, session start/resume/end, wills,
//                         keep alive, the end of connections
//   publish_intake.cc     PUBLISH from clients, inbound QoS 1/2, acknowledgements of outbound
//   routing.cc            a message to the shards that want it (interest, shared groups)
//   delivery.cc           a message to local sessions: encoding, the outbound window, resend
//   subscriptions.cc      SUBSCRIBE/UNSUBSCRIBE, interest updates, shared-group presence
//   retained.cc           retained messages: the partition, fetches for new subscriptions
//   responses.cc          the ordered response queue and its asynchronous completions
//   sys.cc                $SYS statistics
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

#include "core/base/strings.h"
#include "core/broker/config.h"
#include "core/broker/connection.h"
#include "core/broker/cross_shard.h"
#include "core/broker/hooks.h"
#include "core/broker/interest.h"
#include "core/broker/message.h"
#include "core/broker/recovery.h"
#include "core/broker/retained_store.h"
#include "core/broker/router.h"
#include "core/broker/session.h"
#include "core/broker/shard_hash.h"
#include "core/broker/stats.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/packets.h"
#include "core/shard/shard.h"
#include "core/shard/shard_owned.h"
#include "persistence/offline_store.h"

namespace ringmq::broker {

inline constexpr size_t kDropReasons = static_cast<size_t>(DropReason::kNotStored) + 1;

// Counters of one shard. Written only by that shard (relaxed load + store, no locked
// instruction); read by shard 0 for $SYS and by the admin thread for /metrics (stats.h).
struct ShardCounters {
  std::atomic<uint64_t> connections{0};  // network connections (before and after CONNECT)
  std::atomic<uint64_t> clients{0};      // connected MQTT clients
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> subscriptions{0};
  std::atomic<uint64_t> retained{0};
  std::atomic<uint64_t> retained_bytes{0};
  std::atomic<uint64_t> queued_bytes{0};     // in all of this shard's session queues
  std::atomic<uint64_t> queued_messages{0};  // the messages of those queues
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> dropped{0};
  // Limits reached (each is one $SYS/broker/limits/<name>, see sys.cc).
  std::atomic<uint64_t> refused_sessions{0};
  std::atomic<uint64_t> refused_queue_total{0};
  std::atomic<uint64_t> refused_retained{0};
  std::atomic<uint64_t> refused_unstored{0};  // messages refused: the store could not keep them
  std::atomic<uint64_t> refused_subscriptions{0};
  std::atomic<uint64_t> refused_filters{0};
  std::atomic<uint64_t> refused_unreleased_qos2{0};
  std::atomic<uint64_t> alias_table_full{0};
  std::atomic<uint64_t> decision_timeouts{0};
  std::atomic<uint64_t> late_decisions{0};
  // The same messages as messages_in / messages_out, by QoS (index 0, 1, 2).
  std::array<std::atomic<uint64_t>, 3> messages_in_by_qos{};
  std::array<std::atomic<uint64_t>, 3> messages_out_by_qos{};
  // The messages of `dropped`, by DropReason (index).
  std::array<std::atomic<uint64_t>, kDropReasons> dropped_by_reason{};
  std::atomic<uint64_t> connects_refused{0};  // CONNECTs refused, connections closed before one
  // Set by the shard's heartbeat timer (about once a second): when it last ran
  // (base::MonotonicMs) and the busy time of the shard's event loop then (ns, not waiting in
  // the kernel; net::Reactor::busy_ns).
  std::atomic<int64_t> heartbeat_ms{0};
  std::atomic<uint64_t> loop_busy_ns{0};

  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  static void Set(std::atomic<uint64_t>& c, uint64_t n) { c.store(n, std::memory_order_relaxed); }
};

// Read-only after start (but for the session count), shared by every shard.
struct BrokerShared {
  BrokerConfig config;
  uint32_t shards = 1;
  int64_t start_ms = 0;
  std::string version;
  std::vector<std::unique_ptr<ShardCounters>> counters;  // one per shard
  // Where sessions, subscriptions, queued messages and retained messages are kept (the
  // in-memory store by default). Shared by all shards; see persistence/offline_store.h.
  persistence::OfflineStore* store = nullptr;
  // Sessions in all (bounded by config.max_sessions; reserved before a session is made).
  mutable std::atomic<uint64_t> sessions_total{0};
  // Authentication, authorisation and message events (null: everything allowed, no events).
  BrokerHooks* hooks = nullptr;
  // Gives a connection accepted on a listener its transport (net/transport.h; null or no
  // transport set: plain TCP), or answers false to refuse the connection (it is closed).
  // Called on the accepting shard's thread (`shard`), so on several shards at once: it must
  // be thread-safe. A connection handed from another shard keeps its own.
  std::function<bool(uint32_t shard, net::Conn& c)> attach_transport;
  // Figures kept outside the broker (the TLS listeners' handshake counters), for $SYS and
  // /metrics (stats.h); called from shard 0 and the admin thread, so thread-safe. Null: none.
  std::function<std::vector<OutsideFigure>()> outside_figures;
  // What the store gave back at start, by the shard that owns it now (empty: nothing). Each
  // shard takes its own slot once, in OnStart.
  mutable std::vector<std::unique_ptr<ShardRecovery>> recovery;
};

class PublishEncoder;

class BrokerShard final : public shard::ShardApp, public shard::ShardOwned, public ShardServices {
 public:
  BrokerShard(shard::Shard& shard, const BrokerShared& shared);
  ~BrokerShard() override;

  // shard::ShardApp
  void OnStart() override;
  void OnAccepted(net::Conn& c) override;
  void OnAdopted(net::Conn& c, uint64_t app_data) override;
  void OnData(net::Conn& c, std::span<const uint8_t> data) override;
  void OnClosed(net::Conn& c, int err) override;
  bool OnPeerClosed(net::Conn& c) override;
  void OnOutputCongested(net::Conn& c) override;
  void OnOutputDrained(net::Conn& c) override;
  void OnMessage(const shard::Envelope& e) override;
  void OnLoopEnd() override;
  void OnBacklogCleared() override;
  void OnStop() override;
  void OnDiscard(const shard::Envelope& e) override;

  // ShardServices (for the hooks; plugins.cc)
  uint32_t shard_index() const override { return shard_.index(); }
  int64_t clock_ms() const override { return now_ms(); }
  bool PublishFromBroker(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                         bool retain) override;
  net::TimerWheel& shard_timers() override { return shard_.timers(); }

  int64_t now_ms() const { return shard_.now_ms(); }
  // This shard's copy of the limits (a reload posts a new one: ConfigMsg).
  const BrokerConfig& config() const { return config_; }

  // What this shard holds, for tests that check nothing is left behind.
  struct Footprint {
    size_t sessions = 0;
    size_t trie_nodes = 0;
    size_t exact_filters = 0;  // other shards' filters without wildcards (exact_interest.h)
    size_t shared_groups = 0;
    size_t retained = 0;
    size_t tokens = 0;
    size_t retained_requests = 0;
  };
  Footprint FootprintForTest() const {
    return {sessions_.size(), router_.nodes(), router_.exact_filters(),  router_.groups(),
            retained_.size(), tokens_.size(),  retained_requests_.size()};
  }

 private:
  friend class PublishEncoder;

  // What became of a message given to one session, and the count a publisher's
  // acknowledgement waits for.
  // kUnstored: refused because the store cannot keep it (the publisher gets no success).
  enum class Outcome : uint8_t { kSent, kQueued, kDropped, kRefused, kUnstored, kExpired };
  struct DeliveryCount {
    uint32_t delivered = 0;
    uint32_t refused = 0;  // kUnstoredBit: one of them was kUnstored
    uint32_t writes = 0;   // store writes the acknowledgement must wait for
    void Add(Outcome o) {
      if (o == Outcome::kRefused || o == Outcome::kUnstored) {
        refused = (refused + 1) | (o == Outcome::kUnstored ? kUnstoredBit : 0);
      } else if (o != Outcome::kExpired) {
        ++delivered;
      }
    }
    DeliveryCount& operator+=(const DeliveryCount& n) {
      delivered += n.delivered;
      refused = ((refused & ~kUnstoredBit) + (n.refused & ~kUnstoredBit)) |
                ((refused | n.refused) & kUnstoredBit);
      writes += n.writes;
      return *this;
    }
  };

  // ---- cross-shard messages (broker_shard.cc) -----------------------------------------------
  void Handle(uint32_t from, PublishMsg&& m);
  void Handle(uint32_t from, SharedPublishMsg&& m);
  void Handle(uint32_t from, DeliveryReportMsg&& m);
  void Handle(uint32_t from, InterestBatchMsg&& m);
  void Handle(uint32_t from, InterestAckMsg&& m);
  void Handle(uint32_t from, RetainedQueryMsg&& m);
  void Handle(uint32_t from, RetainedReplyMsg&& m);
  void Handle(uint32_t from, DecisionMsg&& m);
  void Handle(uint32_t from, StoreCommittedMsg&& m);
  void Handle(uint32_t from, CallMsg&& m);
  void Handle(uint32_t from, DisconnectMsg&& m);
  void Handle(uint32_t from, ConfigMsg&& m);
  template <typename M>
  void Send(uint32_t target, M&& m) {
    shard_.Send(target, ToEnvelope(std::move(m)));
  }

  // ---- reading (packet_intake.cc) ---------------------------------------------------------
  void ProcessInput(Connection& c, std::span<const uint8_t> data);
  // Keeps bytes to process later (CONNECT or packets after a SUBSCRIBE waiting for a
  // decision); stops reading when they grow beyond a packet's worth.
  void HoldInput(Connection& c, std::span<const uint8_t> data);
  void ReleaseHeldInput(Connection& c);
  // Stops / resumes reading from `c` for `reason` (ReadHold); reading goes on when no reason
  // is left. Time spent held is not charged to keep alive.
  void HoldReading(Connection& c, ReadHold reason);
  // The shard's mailboxes are backlogged: `c` is read again (and its held input processed)
  // once they drain (OnLoopEnd).
  void HoldForBacklog(Connection& c);
  void ReleaseReading(Connection& c, ReadHold reason);
  mqtt::SinkAction HandlePacket(Connection& c, const mqtt::FixedHeader& h,
                                std::span<const uint8_t> body);
  // Ends a connection whose client finished sending, once nothing it sent is pending.
  void FinishPeerClosed(Connection& c);

  // ---- connections and sessions (session_lifecycle.cc) ---------------------------------
  void HandleAwaitConnect(Connection& c);
  void ProcessConnect(Connection& c, const mqtt::Connect& pkt);
  // The CONNECT's decisions (authentication, and the will as a PUBLISH): the CONNACK waits.
  void AskConnectDecisions(Connection& c, PendingResponse& r, const mqtt::Connect& pkt);
  // ---- enhanced authentication (enhanced_auth.cc) --------------------------------------
  void StartEnhancedAuth(Connection& c, const mqtt::Connect& pkt);
  void RunAuthStep(Connection& c, std::string_view data);
  void ApplyAuthStep(Connection& c, Decision d, std::string data);
  void WriteAuth(Connection& c, mqtt::ReasonCode rc, std::string_view data);
  // The exchange succeeded: the CONNECT's other decisions (its will), then CONNACK.
  void AuthenticatedConnect(Connection& c);
  // Takes the AUTH behind the CONNECT in `held`, if it is complete.
  void TryAuthPacket(Connection& c);
  mqtt::DecodeStatus HandleAuth(Connection& c, const mqtt::Auth& p);  // re-authentication
  bool TakeAuthCompletion(DecisionMsg& m);  // false: not an authentication step's ticket
  bool ExpireAuthStep(uint64_t ticket);     // false: not an authentication step's ticket

  // The CONNECT at the front of `held` (before CONNACK): its header, and the packet if `pkt`.
  mqtt::FixedHeader HeldConnect(Connection& c, mqtt::Connect* pkt);
  // The CONNECT was accepted: attach the session, write CONNACK, resume deliveries.
  void FinishConnect(Connection& c, const PendingResponse& r);
  // Takeover, clean start, resume or a new session for `client_id`; null when the session
  // limit is reached. *present: an existing session was resumed.
  Session* AttachSession(Connection& c, const std::string& client_id, bool* present);
  // The will of the CONNECT becomes the session's [MQTT-3.1.2-7].
  void SetWill(Session& s, const mqtt::Connect& pkt);
  void WriteConnack(Connection& c, const Session& s, bool present, bool assigned,
                    bool expiry_capped);
  void RefuseConnect(Connection& c, mqtt::ProtocolVersion v, mqtt::ReasonCode rc,
                     std::string_view why);
  // ---- the log record of a refusal (connect_refusals.cc) ------------------------------
  void LogConnectRefused(Connection& c, mqtt::ProtocolVersion v, mqtt::ReasonCode rc,
                         std::string_view why);
  void LogConnectionClosedBeforeConnect(Connection& c, std::string_view why);
  // The CONNECT's client id, or the assigned one (empty: not known).
  std::string RefusedClientId(Connection& c);
  // Ends a connection from the broker's side: a DISCONNECT with `rc` for 5.0 clients that
  // were connected, then close. `publish_will` says whether the will is published (abnormal
  // ends) or discarded.
  void Disconnect(Connection& c, mqtt::ReasonCode rc, std::string_view why, bool publish_will);
  void ProtocolViolation(Connection& c, mqtt::ReasonCode rc, std::string_view why);
  // The connection stops being the session's: presence, aliases, the will, the session's end
  // or its expiry timer.
  void ConnectionGone(Connection& c, bool publish_will);
  // The last steps of every end of a connection: kClosing, responses dropped, timer stopped,
  // the socket closed (`mode`).
  void CloseConnection(Connection& c, net::CloseMode mode, int err);
  void KeepAliveFired(Connection& c);
  static void OnConnectionTimer(net::Timer* t);
  void EndSession(Session& s);
  // `away_ms`: how long the session has been without its connection already (recovery).
  void ScheduleSessionExpiry(Session& s, int64_t away_ms = 0);
  bool AwaitResumeBarrier(Connection& c, const Session& s);
  void PublishWill(Session& s);
  static void OnSessionExpiry(net::Timer* t);
  static void OnWillDelay(net::Timer* t);
  std::string AssignClientId();
  Session::Timers& SessionTimers(Session& s);
  static std::string_view ClientId(const Connection& c);

  // ---- PUBLISH from clients (publish_intake.cc) ------------------------------------------
  void HandlePublish(Connection& c, mqtt::Publish& p);
  // Resolves the 5.0 Topic Alias of `p` into *topic; false after a protocol violation.
  bool ResolveTopicAlias(Connection& c, const mqtt::Publish& p, std::string_view* topic);
  // Receive Maximum and the 3.x bound on unreleased QoS 2 ids; false after a violation.
  bool AdmitInboundQos(Connection& c, const mqtt::Publish& p);
  // Why the broker does not take a PUBLISH on `topic` from a client (kSuccess: it does). A
  // will obeys exactly the same rules.
  struct TopicRefusal {
    mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;
    const char* why = "";
  };
  TopicRefusal CheckPublishTopic(std::string_view topic) const;
  // The topic and, for 5.0, a payload that must be UTF-8.
  TopicRefusal CheckPublishedMessage(const Connection& c, const mqtt::Publish& p,
                                     std::string_view topic) const;
  void RefusePublish(Connection& c, const mqtt::Publish& p, TopicRefusal refusal);
  MessageRef MessageFromPublish(const Session& s, const mqtt::Publish& p, std::string_view topic,
                                bool v5);
  void AcceptPublish(Connection& c, const mqtt::Publish& p, MessageRef m, const Decision& decision,
                     uint64_t ticket);
  void HandlePuback(Connection& c, const mqtt::Puback& p);
  void HandlePubrec(Connection& c, const mqtt::Pubrec& p);
  void HandlePubrel(Connection& c, const mqtt::Pubrel& p);
  void HandlePubcomp(Connection& c, const mqtt::Pubcomp& p);
  void HandleDisconnect(Connection& c, const mqtt::Disconnect& p);

  // ---- routing (routing.cc) ----------------------------------------------------------------
  // Routes a message to every shard with matching subscribers (and its retained partition).
  // Local deliveries are counted into `ack` (the PUBACK/PUBREC of a QoS 1/2 publish; null for
  // QoS 0, wills and $SYS); returns how many asynchronous parts `ack` must wait for: remote
  // shards reporting back, and this shard's store writes (0 without `ack`).
  uint32_t Route(const MessageRef& m, PendingResponse* ack);
  // A target shard's delivery report waits for its store writes (reporting to `durable`):
  // sent now, or when they have all committed.
  void ReportWhenDurable(uint32_t to, uint64_t publisher_token, uint64_t durable, DeliveryCount n);
  void ReportDelivery(uint32_t to, uint64_t token, DeliveryCount n);
  // Messages of shared groups this session cannot take now go to another member.
  void RedistributeShared(Session& s, bool ending);

  // ---- delivery to local sessions (delivery.cc) --------------------------------------------
  // Delivers to the subscribers in `subs` (this shard's, from a match); store writes report
  // to `durable_token`.
  DeliveryCount DeliverLocal(const MessageRef& m, std::vector<Subscriber>& subs,
                             uint64_t durable_token);
  // Gives a message of a shared group to one local member (see Router::PickMember).
  DeliveryCount DeliverShared(const MessageRef& m, SharedGroup* g, uint64_t durable_token,
                              const Session* avoid = nullptr, bool avoid_ending = false);
  // One copy of `m` for session `s`: how it is sent (QoS, RETAIN, Subscription Identifiers),
  // to which shared group it was given, if any, and the token its store write reports to.
  struct Delivery {
    mqtt::Qos qos = mqtt::Qos::k0;
    bool retain = false;
    SubscriptionIds subscription_ids;
    SharedGroupKeyRef shared_group;
    uint64_t durable_token = 0;
  };
  // *write: a store write the publisher's acknowledgement must wait for was made.
  Outcome DeliverToSession(Session& s, const MessageRef& m, Delivery d, PublishEncoder* enc,
                           bool* write = nullptr);
  void MessageDropped(const Session& s, const Message& m, mqtt::Qos qos, DropReason why);
  // Writes a PUBLISH; false if it exceeds the client's Maximum Packet Size (then nothing is
  // written and the message counts as delivered [MQTT-3.1.2-25]).
  bool WritePublish(Connection& c, const Message& m, mqtt::Qos qos, bool retain, bool dup,
                    uint16_t packet_id, const SubscriptionIds& ids, PublishEncoder* enc);
  // The two encodings WritePublish chooses from: this connection's own, with a topic alias,
  // or the shared bytes of the message's variant.
  bool WriteAliasedPublish(Connection& c, const Message& m, mqtt::Qos qos, bool retain, bool dup,
                           uint16_t packet_id, const SubscriptionIds& ids);
  bool WriteSharedPublish(Connection& c, const Message& m, mqtt::Qos qos, bool retain, bool dup,
                          uint16_t packet_id, const SubscriptionIds& ids, PublishEncoder* enc);
  // The copy a session gets from its subscriptions in subs[begin, end) (all its own).
  bool CombineMatches(const Session& s, const Message& m, std::span<const Subscriber> subs,
                      Delivery* d) const;
  template <typename P>
  void Write(Connection& c, const P& p);
  uint32_t Window(const Connection& c) const;
  // Sends what the window allows: in-flight messages not yet sent on this connection, then
  // the queue.
  void SendQueued(Session& s);
  void HandOn(Session& s, const MessageRef& m, SharedGroup* g, uint64_t seq, bool ending);
  bool ResendOne(Session& s);
  // QoS 2 to a persistent session: in flight (with its packet id) first, sent once that is
  // durable; a crash between the two would otherwise make the client's held id unknown.
  bool HoldsForStore(const Session& s, const Queued& q) const;
  void PutInTail(Session& s, Queued&& q, uint16_t packet_id);
  void ReleaseHeldSend(std::string_view client_id, uint64_t seq);
  void EraseInflight(Session& s, size_t i);
  Queued TakeQueued(Session& s, size_t i);
  bool QueueHasRoom(const Session& s, const Message& m);

  // ---- subscriptions (subscriptions.cc) ---------------------------------------------------
  void HandleSubscribe(Connection& c, const mqtt::Subscribe& p);
  // The authorized SUBSCRIBE of `r` takes effect: subscriptions, interest, retained.
  void ApplySubscribe(Connection& c, PendingResponse& r);
  void HandleUnsubscribe(Connection& c, const mqtt::Unsubscribe& p);
  // Adds or replaces; returns true if the session already had this filter. The SUBACK (`r`)
  // waits until every shard routes the filter here.
  bool AddSubscription(Connection& c, Session& s, std::string_view filter,
                       const mqtt::SubscriptionOptions& o, uint32_t subscription_id,
                       PendingResponse& r);
  // This shard's subscriber entry for a plain filter / a shared group; *wait_seq gets the
  // interest update the SUBACK must wait for.
  SubRef AddPlain(Session& s, std::string_view filter, const mqtt::SubscriptionOptions& o,
                  uint32_t subscription_id, uint64_t* wait_seq);
  SubRef AddShared(Session& s, std::string_view filter, const mqtt::SubscriptionOptions& o,
                   uint32_t subscription_id, uint64_t* wait_seq);
  bool HasSubscription(const Session& s, std::string_view filter) const;
  // By filter text (UNSUBSCRIBE): false if the session has no such subscription.
  bool RemoveSubscription(Session& s, std::string_view filter);
  void RemoveSubscription(Session& s, SubRef ref);
  void RemoveAllSubscriptions(Session& s);
  // Tells every shard how many members (and connected members) a local shared group has.
  void AnnounceGroup(SharedGroup& g);
  // After a session connects or loses its connection: re-announces its shared groups whose
  // connected-member count changed.
  void AnnouncePresence(const Session& s);
  // The response `r` waits until every other shard applied interest update `seq`.
  void AwaitInterest(Connection& c, PendingResponse& r, uint64_t seq);

  // ---- retained messages (retained.cc) -----------------------------------------------------
  struct RetainedFilter {
    std::string filter;
    uint32_t subscription_id = 0;
    mqtt::Qos granted = mqtt::Qos::k0;
  };
  // A PUBLISH arriving on the shard that holds its retained partition; true when the store
  // write reports to `durable_token` later.
  // `unstored`: set when the store refused it (see Outcome::kUnstored).
  bool StoreRetained(const MessageRef& m, uint64_t durable_token = 0, bool* unstored = nullptr);
  // This shard's retained messages matching `filter` (expired ones are dropped on the way).
  void MatchRetained(std::string_view filter, std::vector<MessageRef>* out);
  // Asks the shards holding matching retained messages; they are sent after the SUBACK.
  void RequestRetained(Connection& c, PendingResponse& suback, std::vector<RetainedFilter> filters);
  void MaybeSendRetained(uint64_t request);
  // A live message is being delivered to `s` while it fetches retained messages: a retained
  // message of that topic is not sent after it (it would be older).
  void NoteLiveTopic(Session& s, std::string_view topic);
  void ForgetRetainedRequest(uint64_t request);
  static void OnRetainedSweep(net::Timer* t);

  // ---- decisions (decisions.cc) -------------------------------------------------------------
  ClientInfo ClientInfoOf(const Connection& c) const;
  ClientInfo ClientInfoOf(const Session& s) const;   // its connection's, when it has one
  ClientInfo PublisherInfo(const Message& m) const;  // by the publisher's session on this shard
  // Applies what the hooks answered for the response `r` (`entry`: the SUBSCRIBE filter it
  // is about, or -1): nothing to do, a refusal noted in `r`, or a wait registered for
  // `ticket` with its deadline.
  void AskDecision(Connection& c, PendingResponse& r, Decision d, uint64_t ticket, int entry);
  void NoteRefusal(PendingResponse& r, int entry, mqtt::ReasonCode rc);
  void FinishDecision(uint64_t token, int entry, Decision d);
  PendingResponse* FindResponse(uint64_t token);
  static void OnDecisionTimer(net::Timer* t);

  // ---- store writes (store_writes.cc) ------------------------------------------------------
  // Each writes what changed for a persistent session (nothing for the others); true when the
  // write is asynchronous and reports to `token`.
  void StoreSession(const Session& s);
  void StoreWill(const Session& s);
  bool StoreDelivery(const Session& s, const Queued& q, uint64_t token);
  // Whether the store can keep a new message now (always, for the in-memory store).
  bool StoreAccepting() const;
  // `token`: a response that waits for it (true: it waits).
  bool StoreSent(const Session& s, const Inflight& f, uint64_t token = 0);
  void Done(Session& s, uint64_t seq);
  // A QoS 2 id received (the PUBREC waits for `token`) or released.
  bool StoreUnreleased(const Session& s, uint16_t packet_id, bool added, uint64_t token = 0);
  // The message as the store sees it.
  static persistence::MessageView StoreView(const Message& m);

  // ---- recovery (recovery.cc) ----------------------------------------------------------------
  // Rebuilds what the store gave back for this shard: sessions, subscriptions (announced to
  // every shard), queued and in-flight messages, unreleased ids, retained messages.
  void ApplyRecovery(ShardRecovery& r);

  // ---- ordered responses (responses.cc) ----------------------------------------------------
  PendingResponse& AddResponse(Connection& c, PendingResponse::Kind kind, uint16_t packet_id);
  // The response waits for `parts` more asynchronous completions (its token is registered).
  void AwaitParts(Connection& c, PendingResponse& r, uint32_t parts);
  // One asynchronous part of the response with `token` is done.
  void ResponsePartDone(uint64_t token, uint32_t delivered, uint32_t refused);
  void FlushResponses(Connection& c);
  void WriteResponse(Connection& c, PendingResponse& r);
  void WritePublishAck(Connection& c, PendingResponse& r);
  void RefuseUnstored(Connection& c, PendingResponse& r);
  // A PUBLISH whose decision came: routed if allowed (its acknowledgement may wait again).
  void RouteDecidedPublish(Connection& c, PendingResponse& r);
  // Forgets the responses a closing connection still owed, with their tokens and requests.
  void DropResponses(Connection& c);
  // Holds a response for the debug deferral (config.debug_defer_ms).
  void Defer(Connection& c, PendingResponse& r);
  static void OnDeferTimer(net::Timer* t);

  // ---- $SYS (sys.cc) ----------------------------------------------------------------------
  void PublishSys();
  static void OnSysTimer(net::Timer* t);
  // ---- heartbeat (heartbeat.cc) -------------------------------------------------------------
  static void OnHeartbeatTimer(net::Timer* t);
  void PublishInternal(std::string_view topic, std::string_view payload, bool retain,
                       mqtt::Qos qos = mqtt::Qos::k0);

  // ---- misc -------------------------------------------------------------------------------
  Connection* ConnectionOf(net::Conn& c) { return static_cast<Connection*>(c.user()); }
  Connection* FindConnection(net::ConnId id);
  uint64_t NewToken() { return (uint64_t{shard_.index()} << 56) | ++last_token_; }
  // A message's identity for the store (persistence::MessageView::id): top byte shard + 1.
  uint64_t NewMessageId() { return (uint64_t{shard_.index() + 1} << 56) | ++last_message_id_; }
  ShardCounters& counters() { return *shared_.counters[shard_.index()]; }
  persistence::OfflineStore& store() { return *shared_.store; }
  BrokerHooks* hooks() const { return shared_.hooks; }
  // The hooks when they want `want` (BrokerHooks::Want), else null.
  BrokerHooks* hooks_for(uint32_t want) const {
    return (hook_wants_ & want) != 0 ? shared_.hooks : nullptr;
  }

  shard::Shard& shard_;
  const BrokerShared& shared_;
  const uint32_t shards_;
  const uint32_t hook_wants_;  // shared_.hooks->Wants(), 0 without hooks
  BrokerConfig config_;

  // Sessions by client id: a set of pointers hashed by the session's own id (no second
  // copy of the id, 8-byte slots), looked up by string_view.
  struct SessionHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const {
      return absl::Hash<absl::string_view>{}(base::ToAbsl(id));
    }
    size_t operator()(const std::unique_ptr<Session>& s) const { return (*this)(s->client_id()); }
  };
  struct SessionEq {
    using is_transparent = void;
    static std::string_view Key(std::string_view id) { return id; }
    static std::string_view Key(const std::unique_ptr<Session>& s) { return s->client_id(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Key(a) == Key(b);
    }
  };
  absl::flat_hash_set<std::unique_ptr<Session>, SessionHash, SessionEq> sessions_;
  Router router_;
  InterestReplicator interest_;
  RetainedStore retained_;
  uint64_t queued_bytes_ = 0;  // in this shard's session queues (its share of the total)

  // Asynchronous completions: token -> the connection whose response waits for it.
  absl::flat_hash_map<uint64_t, net::ConnId> tokens_;
  // Pending enhanced-authentication steps: ticket -> connection.
  absl::flat_hash_map<uint64_t, net::ConnId> auth_tickets_;
  uint64_t last_token_ = 0;
  uint64_t last_message_id_ = 0;

  // Retained-message fetches in flight: request -> state.
  struct RetainedRequest {
    net::ConnId conn;
    Session* session = nullptr;
    std::vector<RetainedFilter> filters;
    std::vector<std::vector<MessageRef>> results;  // per filter
    uint32_t waiting = 0;                          // shards yet to answer
    bool suback_sent = false;
    // Topics delivered live to the session since the fetch began (bounded): their retained
    // messages are older than what the client has.
    absl::flat_hash_set<std::string> live_topics;
  };
  absl::flat_hash_map<uint64_t, std::unique_ptr<RetainedRequest>> retained_requests_;

  // Connections held because this shard's mailboxes are backlogged.
  std::vector<net::ConnId> held_for_backlog_;

  // Decisions pending: ticket -> (the response's token, the SUBSCRIBE entry or -1), and their
  // deadlines in order (one timeout for all, so a FIFO).
  absl::flat_hash_map<uint64_t, std::pair<uint64_t, int>> pending_decisions_;
  std::deque<std::pair<int64_t, uint64_t>> decision_deadlines_;

  // Delivery reports waiting for this shard's store writes: local token -> report.
  struct HeldReport {
    uint32_t to = 0;
    uint64_t publisher_token = 0;
    DeliveryCount count;
  };
  absl::flat_hash_map<uint64_t, HeldReport> held_reports_;
  // Messages handed to a shared group's member on another shard: token -> the client id and
  // seq of the copy to mark done once the new copy is durable (its delivery report).
  absl::flat_hash_map<uint64_t, std::pair<std::string, uint64_t>> handoff_dones_;
  // QoS 2 sends waiting for their packet id to be durable: token -> client id, seq.
  absl::flat_hash_map<uint64_t, std::pair<std::string, uint64_t>> held_sends_;

  // Debug deferral (config.debug_defer_ms): tokens released in order by one timer.
  std::deque<std::pair<int64_t, uint64_t>> deferred_;
  struct ShardTimer : net::Timer {
    ShardTimer(BrokerShard* b, Callback cb) : net::Timer(cb), broker(b) {}
    BrokerShard* broker;
  };
  ShardTimer defer_timer_;
  ShardTimer sys_timer_;
  ShardTimer heartbeat_timer_;
  ShardTimer retained_timer_;
  ShardTimer decision_timer_;

  std::vector<Subscriber> match_scratch_;
  std::string forward_scratch_;
  bool stopping_ = false;
  uint64_t assigned_ids_ = 0;
};

template <typename P>
void BrokerShard::Write(Connection& c, const P& p) {
  const mqtt::ProtocolVersion v = c.version;
  size_t n = mqtt::EncodedSize(p, v);
  if (n > c.client_max_packet_size) {
    // Never larger than the client allows [MQTT-3.1.2-24]: drop the Reason String and User
    // Properties first [MQTT-3.2.2-19/20], [MQTT-3.4.2-2/3] and the like.
    if constexpr (requires { p.properties; }) {
      P trimmed = p;
      n = mqtt::FitToMaximumPacketSize(&trimmed, v, c.client_max_packet_size);
      if (n <= c.client_max_packet_size) {
        mqtt::Encode(trimmed, v, c.conn->WriteUninitialized(n));
        ShardCounters::Add(counters().bytes_out, n);
      }
    }
    return;
  }
  mqtt::Encode(p, v, c.conn->WriteUninitialized(n));
  ShardCounters::Add(counters().bytes_out, n);
}

}  // namespace ringmq::broker
