// BrokerShard: the MQTT broker on one shard (the ShardApp of core/shard). Shard-local.
//
// What lives here (DESIGN.md, "Sessions and routing"):
//   - the connections accepted on or handed to this shard, and the sessions whose home
//     shard this is (hash of the client id): after CONNECT a connection moves to its
//     session's home shard, so takeover and QoS state are always shard-local;
//   - subs_: the local subscription trie (filter -> this shard's subscribers);
//     shared_subs_: the local members of shared subscriptions;
//   - interest_: the replicated interest trie (filter -> shards with subscribers, and
//     member counts of shared groups per shard), updated by broadcasts;
//   - retained_: this shard's partition of the retained messages (hash of the topic).
//
// A PUBLISH is matched against interest_ on the publisher's shard; each target shard gets
// one reference to the immutable Message and matches its own subs_; each delivering shard
// encodes the PUBLISH once per variant (version, QoS, RETAIN, Subscription Identifier) and
// shares the bytes among its receivers. QoS 1/2 publishes wait for each target shard's
// delivery report before PUBACK/PUBREC (the path the durable store will take later).
//
// Files: broker_shard.cc (lifecycle, cross-shard messages, shared state), handle_connect.cc,
// handle_publish.cc, handle_subscribe.cc, delivery.cc, sys.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
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
#include "core/broker/filter_trie.h"
#include "core/broker/message.h"
#include "core/broker/messages.h"
#include "core/broker/retained_store.h"
#include "core/broker/session.h"
#include "core/broker/shard_hash.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/packets.h"
#include "core/shard/shard.h"
#include "persistence/offline_store.h"

namespace ringmq::broker {

// Counters of one shard. Written only by that shard (relaxed load + store, no locked
// instruction); read by shard 0 for $SYS.
struct ShardCounters {
  std::atomic<uint64_t> connections{0};  // network connections (before and after CONNECT)
  std::atomic<uint64_t> clients{0};      // connected MQTT clients
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> subscriptions{0};
  std::atomic<uint64_t> retained{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> dropped{0};

  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static void Sub(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
};

// Read-only after start, shared by every shard.
struct BrokerShared {
  BrokerConfig config;
  uint32_t shards = 1;
  int64_t start_ms = 0;
  std::string version;
  std::vector<std::unique_ptr<ShardCounters>> counters;  // one per shard
  // Where sessions, subscriptions, queued messages and retained messages are kept (the
  // in-memory store by default). Shared by all shards; see persistence/offline_store.h.
  persistence::OfflineStore* store = nullptr;
};

// One subscriber entry in subs_ or a shared group.
struct Subscriber {
  Session* session = nullptr;
  mqtt::SubscriptionOptions options;
  uint32_t subscription_id = 0;
};

struct LocalSubscribers {
  std::vector<Subscriber> subs;
  // Interest broadcasts about this filter that some shard has not acknowledged yet. While
  // any is outstanding, a new subscriber's SUBACK must wait too (with its own broadcast).
  uint32_t unconfirmed = 0;
};

struct SharedGroup {
  std::string name;
  std::string filter;
  uint64_t hash = 0;
  std::vector<Subscriber> members;
  uint32_t next = 0;              // round robin
  uint32_t announced_online = 0;  // connected members the other shards were last told of
  uint32_t Online() const {
    uint32_t n = 0;
    for (const Subscriber& m : members) {
      n += m.session->connection != nullptr;
    }
    return n;
  }
};

struct LocalSharedGroups {
  absl::flat_hash_map<std::string, std::unique_ptr<SharedGroup>> by_name;
};

struct SharedInterest {
  std::vector<uint32_t> members;  // per shard
  std::vector<uint32_t> online;   // per shard: members with a connection
  uint32_t total = 0;
  uint32_t total_online = 0;
  uint64_t next = 0;  // round robin over all members
  uint64_t hash = 0;
};

struct Interest {
  uint64_t shards = 0;  // bit per shard with plain subscribers
  absl::flat_hash_map<std::string, std::unique_ptr<SharedInterest>> shared;
  bool empty() const { return shards == 0 && shared.empty(); }
};

class PublishEncoder;

class BrokerShard final : public shard::ShardApp, public persistence::StoreListener {
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
  void OnStop() override;
  void OnDiscard(const shard::Envelope& e) override;

  // persistence::StoreListener
  void OnStoreCommitted(uint64_t token) override { ResponsePartDone(token, 0, 0); }

  int64_t now_ms() const { return shard_.now_ms(); }
  const BrokerConfig& config() const { return shared_.config; }

 private:
  friend class PublishEncoder;

  // ---- connections (handle_connect.cc) ----------------------------------------------------
  void ProcessInput(Connection& c, std::span<const uint8_t> data);
  // Keeps bytes to process later (CONNECT or a SUBSCRIBE waiting for a decision); pauses
  // reading when they grow beyond a packet's worth.
  void HoldInput(Connection& c, std::span<const uint8_t> data);
  void ReleaseHeldInput(Connection& c);
  // Ends a connection whose client finished sending, once nothing it sent is pending.
  void FinishPeerClosed(Connection& c);
  void HandleAwaitConnect(Connection& c);
  void ProcessConnect(Connection& c, const mqtt::Connect& pkt);
  // The CONNECT was accepted: attach the session, write CONNACK, resume deliveries.
  void FinishConnect(Connection& c);
  void RefuseConnect(Connection& c, mqtt::ProtocolVersion v, mqtt::ReasonCode rc,
                     std::string_view why);
  // Ends a connection from the broker's side: a DISCONNECT with `rc` for 5.0 clients that
  // were connected (when rc is a failure, or server shutdown), then close. `will` says
  // whether the will is published (abnormal ends) or discarded.
  void Disconnect(Connection& c, mqtt::ReasonCode rc, std::string_view why, bool publish_will);
  void ProtocolViolation(Connection& c, mqtt::ReasonCode rc, std::string_view why);
  void ConnectionGone(Connection& c, bool publish_will);
  void KeepAliveFired(Connection& c);
  static void OnConnectionTimer(net::Timer* t);

  // ---- packets after CONNECT (handle_publish.cc, handle_subscribe.cc) -------------------
  mqtt::SinkAction HandlePacket(Connection& c, const mqtt::FixedHeader& h,
                                std::span<const uint8_t> body);
  void HandlePublish(Connection& c, mqtt::Publish& p);
  // Why the broker does not take a PUBLISH on `topic` from a client (kSuccess: it does). A
  // will obeys exactly the same rules.
  struct TopicRefusal {
    mqtt::ReasonCode reason = mqtt::ReasonCode::kSuccess;
    const char* why = "";
  };
  TopicRefusal CheckPublishTopic(std::string_view topic) const;
  void HandlePuback(Connection& c, const mqtt::Puback& p);
  void HandlePubrec(Connection& c, const mqtt::Pubrec& p);
  void HandlePubrel(Connection& c, const mqtt::Pubrel& p);
  void HandlePubcomp(Connection& c, const mqtt::Pubcomp& p);
  void HandleSubscribe(Connection& c, const mqtt::Subscribe& p);
  // The authorized SUBSCRIBE of `r` takes effect: subscriptions, interest, retained.
  void ApplySubscribe(Connection& c, PendingResponse& r);
  void HandleUnsubscribe(Connection& c, const mqtt::Unsubscribe& p);
  void HandleDisconnect(Connection& c, const mqtt::Disconnect& p);

  // ---- ordered, possibly asynchronous responses -----------------------------------------
  PendingResponse& AddResponse(Connection& c, PendingResponse::Kind kind, uint16_t packet_id);
  // The response waits for `parts` more asynchronous completions (its token is registered).
  void AwaitParts(Connection& c, PendingResponse& r, uint32_t parts);
  // One asynchronous part of the response with `token` is done.
  void ResponsePartDone(uint64_t token, uint32_t delivered, uint32_t refused);
  void FlushResponses(Connection& c);
  void WriteResponse(Connection& c, PendingResponse& r);
  // Holds a response for the debug deferral (config.debug_defer_ms).
  void Defer(Connection& c, PendingResponse& r);
  static void OnDeferTimer(net::Timer* t);

  // ---- routing and delivery (delivery.cc) -------------------------------------------------
  // Routes a message to every shard with matching subscribers (and its retained partition).
  // Local deliveries are counted into `ack` (the PUBACK/PUBREC of a QoS 1/2 publish; null for
  // QoS 0, wills and $SYS); returns how many remote shards will report back with `ack`'s
  // token (0 without `ack`).
  uint32_t Route(const MessageRef& m, PendingResponse* ack);
  enum class Outcome : uint8_t { kSent, kQueued, kDropped, kRefused, kExpired };
  struct DeliveryCount {
    uint32_t delivered = 0;
    uint32_t refused = 0;
    void Add(Outcome o) {
      if (o == Outcome::kRefused) {
        ++refused;
      } else if (o != Outcome::kExpired) {
        ++delivered;
      }
    }
    DeliveryCount& operator+=(const DeliveryCount& n) {
      delivered += n.delivered;
      refused += n.refused;
      return *this;
    }
  };
  DeliveryCount DeliverLocal(const MessageRef& m);
  // A PUBLISH arriving on the shard that holds its retained partition and/or subscribers:
  // stores it as the topic's retained message, delivers it to the local subscribers.
  DeliveryCount ApplyPublish(const MessageRef& m, bool store_retained, bool deliver);
  // This shard's retained messages matching `filter` (expired ones are dropped on the way).
  void MatchRetained(std::string_view filter, std::vector<MessageRef>* out);
  void ReportDelivery(const shard::Envelope& e, DeliveryCount n);
  // Hands a reference of `m` to shard `target` as envelope `kind` (kPublish/kPublishShared).
  void SendMessage(uint32_t target, uint32_t kind, const MessageRef& m, uint64_t token,
                   uint64_t aux);
  // Gives a message of a shared group to one local member. `avoid` (the member it is being
  // taken from) gets it back only if it is the only member and is not ending.
  DeliveryCount DeliverShared(const MessageRef& m, uint64_t group_hash,
                              const Session* avoid = nullptr, bool avoid_ending = false);
  // Picks the shard for a message of a shared group (weighted by members per shard).
  uint32_t PickSharedShard(SharedInterest& si, uint32_t exclude_local = 0);
  Outcome DeliverToSession(Session& s, const MessageRef& m, mqtt::Qos qos, bool retain,
                           uint32_t subscription_id, uint64_t shared_group, PublishEncoder* enc);
  // Writes a PUBLISH; false if it exceeds the client's Maximum Packet Size (then nothing is
  // written and the message counts as delivered [MQTT-3.1.2-25]).
  bool WritePublish(Connection& c, const Message& m, mqtt::Qos qos, bool retain, bool dup,
                    uint16_t packet_id, uint32_t subscription_id, PublishEncoder* enc);
  template <typename P>
  void Write(Connection& c, const P& p);
  uint16_t NextPacketId(Session& s);
  // `q` has just been sent with `packet_id`: it is in flight until acknowledged.
  void AddInflight(Session& s, Queued&& q, uint16_t packet_id);
  uint32_t Window(const Connection& c) const;
  // Sends what the window allows: in-flight messages not yet sent on this connection, then
  // the queue.
  void SendQueued(Session& s);
  // A resumed session: every in-flight message is to be sent again (SendQueued does it).
  void ResendInflight(Session& s);
  bool ResendOne(Session& s);
  void EraseInflight(Session& s, size_t i);
  void RedistributeShared(Session& s, bool ending);

  // ---- subscriptions (handle_subscribe.cc) ------------------------------------------------
  // Adds or replaces; returns true if the session already had this filter. `acks` gets the
  // number of interest acknowledgements the SUBACK must wait for.
  bool AddSubscription(Session& s, std::string_view filter, const mqtt::SubscriptionOptions& o,
                       uint32_t subscription_id, uint64_t token, uint32_t* acks);
  bool RemoveSubscription(Session& s, std::string_view filter);
  void RemoveAllSubscriptions(Session& s);
  // Broadcasts this shard's interest in a filter/group. With a response token, every other
  // shard acknowledges and the response waits for them (returns how many).
  uint32_t BroadcastInterest(std::string_view filter, std::string_view share_name, uint32_t count,
                             uint64_t token, uint32_t online = 0);
  // Tells every shard how many members (and connected members) a local shared group has.
  uint32_t AnnounceGroup(SharedGroup& g, uint64_t token);
  // After a session connects or loses its connection: re-announces its shared groups whose
  // connected-member count changed, so that other shards send their messages to members
  // that can take them now.
  void AnnouncePresence(const Session& s);
  void OnInterestAck(uint64_t broadcast);
  void ApplyInterest(const InterestUpdate& u);
  struct RetainedFilter {
    std::string filter;
    uint32_t subscription_id = 0;
    mqtt::Qos granted = mqtt::Qos::k0;
  };
  // Asks the shards holding matching retained messages; they are sent after the SUBACK.
  void RequestRetained(Connection& c, PendingResponse& suback, std::vector<RetainedFilter> filters);
  void HandleRetainedQuery(const RetainedQuery& q);
  void HandleRetainedReply(RetainedReply& r);

  // ---- sessions (handle_connect.cc) -------------------------------------------------------
  void EndSession(Session& s);
  void ScheduleSessionExpiry(Session& s);
  void PublishWill(Session& s);
  static void OnSessionExpiry(net::Timer* t);
  static void OnWillDelay(net::Timer* t);
  std::string AssignClientId();
  Session::Timers& SessionTimers(Session& s);
  static std::string_view ClientId(const Connection& c);

  // ---- $SYS (sys.cc) ----------------------------------------------------------------------
  void PublishSys();
  static void OnSysTimer(net::Timer* t);
  void PublishInternal(std::string_view topic, std::string_view payload, bool retain);

  // ---- misc -------------------------------------------------------------------------------
  Connection* ConnectionOf(net::Conn& c) { return static_cast<Connection*>(c.user()); }
  Connection* FindConnection(net::ConnId id);
  uint64_t NewToken() { return (uint64_t{shard_.index()} << 56) | ++last_token_; }
  ShardCounters& counters() { return *shared_.counters[shard_.index()]; }
  persistence::OfflineStore& store() { return *shared_.store; }
  // The message as the store sees it.
  static persistence::MessageView StoreView(const Message& m);
  // The session is done with a QoS 1/2 message (tells the store when it kept it).
  void Done(Session& s, uint64_t seq);

  shard::Shard& shard_;
  const BrokerShared& shared_;
  const uint32_t shards_;

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
  FilterTrie<LocalSubscribers> subs_;
  FilterTrie<LocalSharedGroups> shared_subs_;
  absl::flat_hash_map<uint64_t, SharedGroup*> shared_by_hash_;
  FilterTrie<Interest> interest_;
  absl::flat_hash_map<uint64_t, SharedInterest*> interest_by_hash_;
  RetainedStore retained_;

  // Interest broadcasts awaiting acknowledgements: broadcast id -> what it was about.
  struct PendingInterest {
    std::string filter;  // plain filters only (shared groups need no confirmation tracking)
    uint32_t acks_left = 0;
    uint64_t token = 0;  // the SUBACK waiting for them
  };
  absl::flat_hash_map<uint64_t, PendingInterest> pending_interest_;

  // Asynchronous completions: token -> the connection whose response waits for it.
  absl::flat_hash_map<uint64_t, net::ConnId> tokens_;
  uint64_t last_token_ = 0;

  // Retained-message requests in flight: request -> state.
  struct RetainedRequest {
    net::ConnId conn;
    std::vector<RetainedFilter> filters;
    std::vector<std::vector<MessageRef>> results;  // per filter
    uint32_t waiting = 0;                          // shards yet to answer
    bool suback_sent = false;
  };
  absl::flat_hash_map<uint64_t, std::unique_ptr<RetainedRequest>> retained_requests_;
  void MaybeSendRetained(uint64_t request);
  // Forgets the responses a closing connection still owed, with their tokens and requests.
  void DropResponses(Connection& c);

  // Connections paused because this shard's mailboxes are backlogged.
  std::vector<net::ConnId> paused_for_backlog_;

  // Debug deferral (config.debug_defer_ms): tokens released in order by one timer.
  std::deque<std::pair<int64_t, uint64_t>> deferred_;
  struct ShardTimer : net::Timer {
    ShardTimer(BrokerShard* b, Callback cb) : net::Timer(cb), broker(b) {}
    BrokerShard* broker;
  };
  ShardTimer defer_timer_;
  ShardTimer sys_timer_;

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
