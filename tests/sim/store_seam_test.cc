// The store seam (persistence/offline_store.h) with a test double: a store whose writes
// complete late, out of order, from another thread; and which hands back a prepared state at
// start. Proven here before the SQLite store (its real user) exists.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "persistence/offline_store.h"
#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;
using mqtt::ProtocolVersion;
using mqtt::Qos;
using mqtt::ReasonCode;

// Every write with a token completes later, when the test says, in the order it says.
class LateStore final : public persistence::OfflineStore {
 public:
  struct Write {
    std::string what;
    std::string client_id;
    uint64_t token;
    uint64_t message_id = 0;  // "queued" and "retained" writes
  };

  bool durable() const override { return true; }
  bool Accepting() const override { return accepting_.load(); }
  void SetListener(persistence::StoreListener* l) override { listener_ = l; }
  absl::Status Recover(persistence::RecoverySink& sink) override {
    if (recover_) {
      recover_(sink);
    }
    return absl::OkStatus();
  }
  bool SessionUpdated(const persistence::SessionView& s, uint64_t t) override {
    return Note("session", s.client_id, t);
  }
  bool SessionEnded(std::string_view c, uint64_t t) override { return Note("ended", c, t); }
  bool WillSet(std::string_view c, const persistence::WillView*, uint64_t t) override {
    return Note("will", c, t);
  }
  bool SubscriptionAdded(std::string_view c, const persistence::SubscriptionView&,
                         uint64_t t) override {
    return Note("subscribe", c, t);
  }
  bool SubscriptionRemoved(std::string_view c, std::string_view, uint64_t t) override {
    return Note("unsubscribe", c, t);
  }
  bool MessageQueued(std::string_view c, const persistence::DeliveryView& d, uint64_t t) override {
    return Note("queued", c, t, d.message.id);
  }
  bool MessageSent(std::string_view c, uint64_t, uint16_t, bool, uint64_t t) override {
    return Note("sent", c, t);
  }
  bool MessageDone(std::string_view c, uint64_t, uint64_t t) override { return Note("done", c, t); }
  bool UnreleasedQos2Added(std::string_view c, uint16_t, uint64_t t) override {
    return Note("qos2", c, t);
  }
  bool UnreleasedQos2Released(std::string_view c, uint16_t, uint64_t t) override {
    return Note("pubrel", c, t);
  }
  bool RetainedSet(const persistence::MessageView& m, uint64_t t) override {
    return Note("retained", m.topic, t, m.id);
  }

  // The writes that wait for a commit, taken (the test completes them).
  std::vector<Write> TakePending() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(pending_, {});
  }
  std::vector<Write> All() {
    std::lock_guard<std::mutex> lock(mu_);
    return all_;
  }
  // Commits `writes` from another thread, in the order given.
  void CommitFromAnotherThread(const std::vector<Write>& writes) {
    std::thread t([&] {
      for (const Write& w : writes) {
        listener_->OnStoreCommitted(w.token);
      }
    });
    t.join();
  }
  std::function<void(persistence::RecoverySink&)> recover_;
  std::atomic<bool> accepting_{true};  // false: as with a full disk

 private:
  bool Note(std::string_view what, std::string_view client, uint64_t token,
            uint64_t message_id = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    Write w{std::string(what), std::string(client), token, message_id};
    all_.push_back(w);
    if (token == 0) {
      return false;  // nobody waits: as durable as it will be
    }
    pending_.push_back(w);
    return true;
  }
  std::mutex mu_;
  std::vector<Write> pending_;
  std::vector<Write> all_;
  persistence::StoreListener* listener_ = nullptr;
};

mqtt::Connect PersistentConnect(const std::string& id,
                                ProtocolVersion v = ProtocolVersion::kMqtt5) {
  mqtt::Connect c = ConnectPacket(id, v);
  c.clean_start = false;
  if (mqtt::IsV5(v)) {
    c.properties.SetSessionExpiryInterval(3600);
  }
  return c;
}

// Steps until `c` has a packet of `type`, completing nothing. Returns whether it came.
bool Arrives(SteppedBroker& b, SimClient& c, PacketType type, int rounds = 10) {
  return StepUntil(b, c, type, nullptr, rounds).has_value();
}

mqtt::Subscribe SubscribePacket(std::string filter, Qos qos) {
  mqtt::Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({std::move(filter), {.max_qos = qos}});
  return s;
}

// A persistent session on `shard`, subscribed to `filter`: its SUBACK waits for the store,
// which commits here. A test failure if the SUBACK does not come.
std::unique_ptr<SimClient> DurableSubscriber(SteppedBroker& b, LateStore& store, uint32_t shard,
                                             const std::string& id, std::string filter, Qos qos) {
  auto c = b.Accept(shard);
  c->Send(PersistentConnect(id));
  b.StepAll(3);
  c->Send(SubscribePacket(std::move(filter), qos));
  b.StepAll(3);
  store.CommitFromAnotherThread(store.TakePending());
  EXPECT_TRUE(Arrives(b, *c, PacketType::kSuback));
  return c;
}

// A QoS 1 PUBLISH matching persistent sessions on both shards (one connected, one away) is
// acknowledged only once every store write for it has committed, on whichever shard it was
// made; completions come from another thread, in reverse order. A QoS 2 PUBREC waits for its
// packet id too (exactly once across a restart).
TEST(StoreSeamTest, AcknowledgementsWaitForEveryDurableCopy) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  const std::string s0_id = SpreadId("durable", 0);
  const std::string s1_id = SpreadId("durable", 1);
  auto s0 = b->Accept(0);
  s0->Send(PersistentConnect(s0_id));
  auto s1 = b->Accept(1);
  s1->Send(PersistentConnect(s1_id));
  b->StepAll(3);
  for (SimClient* c : {s0.get(), s1.get()}) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    s.subscriptions.push_back({"d/#", {.max_qos = Qos::k2}});
    c->Send(s);
  }
  // The SUBACKs wait for the subscriptions to be durable.
  EXPECT_FALSE(Arrives(*b, *s0, PacketType::kSuback));
  store.CommitFromAnotherThread(store.TakePending());
  EXPECT_TRUE(Arrives(*b, *s0, PacketType::kSuback));
  EXPECT_TRUE(Arrives(*b, *s1, PacketType::kSuback));
  s1->Close();  // away: its copy is queued
  b->StepAll(3);

  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  std::set<uint64_t> message_ids;
  for (Qos qos : {Qos::k1, Qos::k2}) {
    SCOPED_TRACE(static_cast<int>(qos));
    const uint16_t id = qos == Qos::k1 ? 7 : 8;
    pub->Send(PublishPacket("d/x", "kept", qos, id));
    const PacketType ack = qos == Qos::k1 ? PacketType::kPuback : PacketType::kPubrec;
    EXPECT_FALSE(Arrives(*b, *pub, ack)) << "acknowledged before it was durable";
    std::vector<LateStore::Write> pending = store.TakePending();
    size_t queued = 0;
    std::set<uint64_t> ids;
    for (const auto& w : pending) {
      if (w.what == "queued") {
        ++queued;
        ids.insert(w.message_id);
      }
    }
    EXPECT_EQ(queued, 2u) << "one durable copy per persistent session, on both shards";
    // Both copies name one body (the store keeps it once), and no other message has its id.
    ASSERT_EQ(ids.size(), 1u) << "the copies on the two shards carry different message ids";
    EXPECT_NE(*ids.begin(), 0u);
    EXPECT_TRUE(message_ids.insert(*ids.begin()).second) << "two messages share an id";
    std::reverse(pending.begin(), pending.end());
    std::vector<LateStore::Write> all_but_one(pending.begin(), pending.end() - 1);
    store.CommitFromAnotherThread(all_but_one);
    EXPECT_FALSE(Arrives(*b, *pub, ack)) << "acknowledged with one write not durable";
    store.CommitFromAnotherThread({pending.back()});
    auto got = StepUntil(*b, *pub, ack);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->reason(), ReasonCode::kSuccess);
  }
}

// While the store cannot keep new messages (a full disk), what would need it is refused,
// never acknowledged: 5.0 publishers get "Quota exceeded" (QoS 1, QoS 2, retained), 3.1.1
// publishers get no PUBACK, a persistent session's SUBSCRIBE is refused; nothing of it is
// queued. A message for clean sessions only still flows. When the store accepts again,
// service resumes.
TEST(StoreSeamTest, WhatTheStoreCannotKeepIsRefusedNeverAcknowledged) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = DurableSubscriber(*b, store, 1, SpreadId("away", 1), "d/#", Qos::k2);
  sub->Close();
  b->StepAll(3);
  auto clean = ConnectClient(*b, 1, SpreadId("clean", 1));
  SubscribeClient(*b, *clean, "c/#", Qos::k1);

  store.accepting_ = false;
  const size_t writes_before = store.All().size();
  auto v5 = b->Accept(0);
  v5->Send(PersistentConnect(SpreadId("pub5", 0)));
  ASSERT_TRUE(Arrives(*b, *v5, PacketType::kConnack));
  v5->Send(PublishPacket("d/x", "lost?", Qos::k1, 1));
  auto ack = StepUntil(*b, *v5, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kQuotaExceeded);
  v5->Send(PublishPacket("d/x", "lost?", Qos::k2, 2));
  auto rec = StepUntil(*b, *v5, PacketType::kPubrec);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->reason(), ReasonCode::kQuotaExceeded);
  mqtt::Publish retained = PublishPacket("r/1", "v", Qos::k1, 3);
  retained.retain = true;
  v5->Send(retained);
  ack = StepUntil(*b, *v5, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kQuotaExceeded);
  v5->Send(SubscribePacket(
      "d/#", Qos::k2));  // the persistent publisher subscribes: refused, it could not be kept
  auto suback = StepUntil(*b, *v5, PacketType::kSuback);
  ASSERT_TRUE(suback.has_value());
  // A message for clean sessions only needs no store: acknowledged and delivered.
  v5->Send(PublishPacket("c/x", "flows", Qos::k1, 4));
  ack = StepUntil(*b, *v5, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kSuccess);
  EXPECT_TRUE(Arrives(*b, *clean, PacketType::kPublish));

  auto v3 = ConnectClient(*b, 0, SpreadId("pub3", 0), ProtocolVersion::kMqtt311);
  v3->Send(PublishPacket("d/x", "lost?", Qos::k1, 5));
  EXPECT_FALSE(Arrives(*b, *v3, PacketType::kPuback)) << "3.x: refused means not acknowledged";
  const std::vector<LateStore::Write> all = store.All();
  for (size_t i = writes_before; i < all.size(); ++i) {
    const LateStore::Write& w = all[i];
    EXPECT_NE(w.what, "queued") << "a refused message was queued";
    EXPECT_NE(w.what, "retained") << "a refused retained message was stored";
    EXPECT_NE(w.what, "subscribe") << "a refused subscription was stored";
  }
  EXPECT_GT(store.All().size(), writes_before);  // the publishers' sessions were written

  store.accepting_ = true;
  v5->Send(PublishPacket("d/x", "kept", Qos::k1, 6));
  EXPECT_FALSE(Arrives(*b, *v5, PacketType::kPuback));
  store.CommitFromAnotherThread(store.TakePending());
  ack = StepUntil(*b, *v5, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kSuccess);
}

// Whether a message may be stored is decided once, where it is made: a message made while the
// store accepted is kept by every persistent session it reaches, on every shard, even if the
// store stops accepting while it travels (its writes wait for the disk, and so does its
// acknowledgement); one made while the store refused is refused by all of them. Never a
// refusal to the publisher with copies kept on some shards (a resend would duplicate them).
TEST(StoreSeamTest, AMessageIsStoredEverywhereOrNowhere) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  for (uint32_t shard : {0u, 1u}) {
    auto c = DurableSubscriber(*b, store, shard, SpreadId("both", shard), "w/#", Qos::k1);
    c->Close();
    b->StepAll(3);
  }
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  pub->Send(PublishPacket("w/x", "m", Qos::k1, 1));
  b->Step(0);  // made, queued on shard 0, on its way to shard 1
  store.accepting_ = false;
  b->StepAll(3);
  size_t queued = 0;
  std::vector<LateStore::Write> pending = store.TakePending();
  for (const auto& w : pending) {
    queued += w.what == "queued";
  }
  EXPECT_EQ(queued, 2u) << "admitted, so kept on both shards";
  store.CommitFromAnotherThread(pending);
  auto ack = StepUntil(*b, *pub, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kSuccess);

  pub->Send(PublishPacket("w/x", "m", Qos::k1, 2));
  b->Step(0);               // made while refusing ...
  store.accepting_ = true;  // ... and the store accepts again while it travels
  b->StepAll(3);
  for (const auto& w : store.TakePending()) {
    EXPECT_NE(w.what, "queued") << "refused where it was made, kept elsewhere";
  }
  ack = StepUntil(*b, *pub, PacketType::kPuback);
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->reason(), ReasonCode::kQuotaExceeded);
}

// A QoS 2 message refused with a PUBREC failure ends there [MQTT-4.3.3-9]: its packet id is
// free again, in the store too. Else, after a restart, the next message the client sends
// with that id would be taken for a duplicate of the refused one and never routed.
TEST(StoreSeamTest, ARefusedQos2MessageReleasesItsStoredPacketId) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  o.config.max_queued_messages = 1;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = DurableSubscriber(*b, store, 1, SpreadId("full", 1), "q/#", Qos::k1);
  sub->Close();  // away, with room for one queued message
  b->StepAll(3);
  auto pub = b->Accept(0);
  pub->Send(PersistentConnect(SpreadId("pub", 0)));
  ASSERT_TRUE(Arrives(*b, *pub, PacketType::kConnack));
  for (uint16_t id : {1, 2}) {
    pub->Send(PublishPacket("q/x", "m", Qos::k2, id));
    b->StepAll(3);
    store.CommitFromAnotherThread(store.TakePending());
    auto rec = StepUntil(*b, *pub, PacketType::kPubrec);
    ASSERT_TRUE(rec.has_value());
    EXPECT_EQ(rec->reason(), id == 1 ? ReasonCode::kSuccess : ReasonCode::kQuotaExceeded);
  }
  // Id 2 was refused: stored as unreleased, then released, in that order.
  int unreleased = 0;
  for (const auto& w : store.All()) {
    if (w.client_id == SpreadId("pub", 0)) {
      unreleased += w.what == "qos2" ? 1 : w.what == "pubrel" ? -1 : 0;
    }
  }
  EXPECT_EQ(unreleased, 1) << "only id 1 waits for its PUBREL";
}

// Exactly once across a crash needs the second half of QoS 2 durable before it is answered:
// a PUBCOMP sent before the release of the client's packet id is durable would, after a
// crash, leave the id "unreleased" and make the client's next message with it a duplicate;
// a PUBREL sent before the PUBREC is durable would, after a crash, make the broker send the
// message again, which the client (its id already completed) takes as a new one; and the
// broker's PUBLISH itself must wait for its packet id (found by tests/store/crash_test.py).
TEST(StoreSeamTest, TheSecondHalfOfQos2WaitsForItsWriteBothWays) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = DurableSubscriber(*b, store, 1, SpreadId("sub2", 1), "e/#", Qos::k2);
  auto pub = b->Accept(0);
  pub->Send(PersistentConnect(SpreadId("pub2", 0)));
  ASSERT_TRUE(Arrives(*b, *pub, PacketType::kConnack));

  pub->Send(PublishPacket("e/x", "once", Qos::k2, 11));
  b->StepAll(3);
  // The broker's QoS 2 PUBLISH to the persistent subscriber, too, waits until its packet id
  // is durable: sent before, a crash would make the broker send it again under a new id.
  EXPECT_FALSE(Arrives(*b, *sub, PacketType::kPublish))
      << "QoS 2 PUBLISH before its packet id was durable";
  store.CommitFromAnotherThread(store.TakePending());
  ASSERT_TRUE(Arrives(*b, *pub, PacketType::kPubrec));
  mqtt::Pubrel rel;
  rel.packet_id = 11;
  pub->Send(rel);
  EXPECT_FALSE(Arrives(*b, *pub, PacketType::kPubcomp))
      << "PUBCOMP before the packet id's release was durable";
  store.CommitFromAnotherThread(store.TakePending());
  EXPECT_TRUE(Arrives(*b, *pub, PacketType::kPubcomp));

  auto delivered = StepUntil(*b, *sub, PacketType::kPublish);
  ASSERT_TRUE(delivered.has_value());
  store.CommitFromAnotherThread(store.TakePending());
  mqtt::Pubrec rec;
  rec.packet_id = delivered->publish().packet_id;
  sub->Send(rec);
  EXPECT_FALSE(Arrives(*b, *sub, PacketType::kPubrel)) << "PUBREL before the PUBREC was durable";
  store.CommitFromAnotherThread(store.TakePending());
  EXPECT_TRUE(Arrives(*b, *sub, PacketType::kPubrel));
}

// A resumed session is answered only once its previous connection's writes are durable: a
// PUBREL sent again after a reconnection (its first PUBCOMP was lost with the connection)
// gets its PUBCOMP only once the release is durable, not at once from memory.
TEST(StoreSeamTest, AResumedSessionWaitsForItsPreviousConnectionsWrites) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  const std::string id = SpreadId("again", 0);
  auto pub = b->Accept(0);
  pub->Send(PersistentConnect(id));
  b->StepAll(3);
  store.CommitFromAnotherThread(store.TakePending());
  ASSERT_TRUE(Arrives(*b, *pub, PacketType::kConnack));
  pub->Send(PublishPacket("x/y", "m", Qos::k2, 7));
  b->StepAll(3);
  store.CommitFromAnotherThread(store.TakePending());
  ASSERT_TRUE(Arrives(*b, *pub, PacketType::kPubrec));
  pub->Send(mqtt::Pubrel{.packet_id = 7});
  EXPECT_FALSE(Arrives(*b, *pub, PacketType::kPubcomp));  // the release is not durable yet
  pub->Close();
  b->StepAll(3);
  auto again = b->Accept(0);
  again->Send(PersistentConnect(id));
  ASSERT_TRUE(Arrives(*b, *again, PacketType::kConnack));
  again->Send(mqtt::Pubrel{.packet_id = 7});
  EXPECT_FALSE(Arrives(*b, *again, PacketType::kPubcomp))
      << "PUBCOMP before the release of the previous connection was durable";
  store.CommitFromAnotherThread(store.TakePending());
  EXPECT_TRUE(Arrives(*b, *again, PacketType::kPubcomp));
}

// A shared-group message handed from a member that went away to a member on another shard
// stays in the first member's stored queue until the second member's copy is durable: a
// crash in between must not leave it in no queue.
TEST(StoreSeamTest, AHandedOnMessageLeavesItsFirstQueueOnlyOnceDurableInTheNext) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  o.config.max_inflight = 1;  // the second message waits in the first member's queue
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  const std::string a_id = SpreadId("memberA", 0);
  std::vector<std::unique_ptr<SimClient>> members;
  for (const std::string& id : {a_id, SpreadId("memberB", 1)}) {
    auto c = DurableSubscriber(*b, store, id == a_id ? 0 : 1, id, "$share/g/h/#", Qos::k1);
    members.push_back(std::move(c));
  }
  members[1]->Close();  // B away: A gets both, one in flight, one queued
  b->StepAll(3);
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  for (uint16_t id : {1, 2}) {
    pub->Send(PublishPacket("h/x", "m" + std::to_string(id), Qos::k1, id));
    b->StepAll(3);
    store.CommitFromAnotherThread(store.TakePending());
  }
  auto back = b->Accept(1);  // B returns, A leaves: A's messages go to B on shard 1
  back->Send(PersistentConnect(SpreadId("memberB", 1)));
  b->StepAll(3);
  store.CommitFromAnotherThread(store.TakePending());
  const size_t before = store.All().size();
  members[0]->Close();
  b->StepAll(3);
  auto done_for_a = [&] {
    int n = 0;
    const auto all = store.All();
    for (size_t i = before; i < all.size(); ++i) {
      n += all[i].what == "done" && all[i].client_id == a_id;
    }
    return n;
  };
  EXPECT_EQ(done_for_a(), 0) << "A's copies done before B's copies were durable";
  store.CommitFromAnotherThread(store.TakePending());
  b->StepAll(3);
  EXPECT_EQ(done_for_a(), 2);
}

// Sessions that end with their connection are never written: a message for clean sessions
// only is acknowledged at once, with no store write.
TEST(StoreSeamTest, NothingIsWrittenForSessionsThatEndWithTheirConnection) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto sub = ConnectClient(*b, 1, SpreadId("clean", 1));
  SubscribeClient(*b, *sub, "c/#", Qos::k1);
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  pub->Send(PublishPacket("c/x", "m", Qos::k1, 1));
  EXPECT_TRUE(Arrives(*b, *pub, PacketType::kPuback));
  EXPECT_TRUE(store.All().empty());
}

// A retained QoS 1 PUBLISH is acknowledged once the retained message is durable.
TEST(StoreSeamTest, RetainedPublishWaitsForItsWrite) {
  LateStore store;
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  for (int i = 0; i < 4; ++i) {  // topics on both partitions
    const std::string topic = "r/" + std::to_string(i);
    mqtt::Publish p = PublishPacket(topic, "v", Qos::k1, static_cast<uint16_t>(i + 1));
    p.retain = true;
    pub->Send(p);
    EXPECT_FALSE(Arrives(*b, *pub, PacketType::kPuback));
    store.CommitFromAnotherThread(store.TakePending());
    EXPECT_TRUE(Arrives(*b, *pub, PacketType::kPuback));
  }
}

// What the store hands back at start is rebuilt on the shard that owns it now: the session
// (its client finds it present), its subscriptions (routed from every shard), its queued and
// in-flight messages (in order; in flight again with DUP and the same packet id), its
// unreleased QoS 2 ids (exactly once: the PUBREL is known), and retained messages.
TEST(StoreSeamTest, RecoveryRebuildsSessionsOnTheirShards) {
  LateStore store;
  const std::string id = SpreadId("back", 1);
  store.recover_ = [&](persistence::RecoverySink& sink) {
    sink.Session({id, ProtocolVersion::kMqtt5, 3600}, nullptr);
    sink.Subscription(id, {"back/#", {.max_qos = Qos::k1}, 0});
    persistence::DeliveryView inflight;
    inflight.seq = 5;
    inflight.message = {"back/1", "in flight", {}, Qos::k1, false, 0};
    inflight.qos = Qos::k1;
    inflight.packet_id = 42;
    sink.Delivery(id, inflight);
    persistence::DeliveryView queued = inflight;
    queued.seq = 6;
    queued.message.payload = "queued";
    queued.packet_id = 0;
    sink.Delivery(id, queued);
    sink.UnreleasedQos2(id, 77);
    sink.Retained({"back/retained", "kept", {}, Qos::k0, true, 0});
  };
  SteppedBrokerOptions o;
  o.store = &store;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  b->StepAll(3);
  auto c = b->Accept(0);  // lands on shard 0, moves to shard 1
  mqtt::Connect connect = PersistentConnect(id);
  c->Send(connect);
  std::vector<ReceivedPacket> seen;
  auto ack = StepUntil(*b, *c, PacketType::kConnack, &seen);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->As<mqtt::Connack>().session_present);
  // Nothing of the resumed session goes out before its earlier writes are durable.
  b->StepAll(3);
  ASSERT_OK_AND_ASSIGN(auto early, c->Read());
  EXPECT_TRUE(early.empty() && seen.empty()) << "resumed before the store barrier";
  store.CommitFromAnotherThread(store.TakePending());
  b->StepAll(3);
  ASSERT_OK_AND_ASSIGN(auto first, c->Read());
  seen.insert(seen.end(), first.begin(), first.end());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[0].publish().payload, "in flight");
  EXPECT_TRUE(seen[0].publish().dup);
  EXPECT_EQ(seen[0].publish().packet_id, 42);
  EXPECT_EQ(seen[1].publish().payload, "queued");
  // The subscription routes from the other shard.
  auto pub = ConnectClient(*b, 0, SpreadId("pub", 0));
  pub->Send(PublishPacket("back/live", "live", Qos::k0));
  auto live = StepUntil(*b, *c, PacketType::kPublish);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->publish().payload, "live");
  // The unreleased id is known.
  c->Send(mqtt::Pubrel{.packet_id = 77});
  b->StepAll(3);
  store.CommitFromAnotherThread(store.TakePending());  // the release is durable
  auto comp = StepUntil(*b, *c, PacketType::kPubcomp);
  ASSERT_TRUE(comp.has_value());
  EXPECT_EQ(comp->reason(), ReasonCode::kSuccess);
  // The retained message is on its partition.
  auto late = ConnectClient(*b, 0, SpreadId("late", 0));
  mqtt::Subscribe s;
  s.packet_id = 1;
  s.subscriptions.push_back({"back/retained", {}});
  late->Send(s);
  std::vector<ReceivedPacket> with_suback;
  ASSERT_TRUE(StepUntil(*b, *late, PacketType::kSuback, &with_suback).has_value());
  auto r = with_suback.empty() ? StepUntil(*b, *late, PacketType::kPublish)
                               : std::optional<ReceivedPacket>(with_suback[0]);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->publish().payload, "kept");
  EXPECT_TRUE(r->publish().retain);
}

}  // namespace
}  // namespace ringmq::testing
