// The SQLite store on its own: every record type written, read back after a reopen, and
// deleted; bodies kept once; expiry across a restart; the schema migration; and the files it
// must refuse (corrupt, a newer schema, a folder in use).
#include "persistence/sqlite/sqlite_store.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include <sqlite3.h>

#include "persistence/sqlite/schema.h"
#include "persistence/sqlite/wall_clock.h"

namespace ringmq::persistence::sqlite {
namespace {

using mqtt::Qos;

// Everything Recover() hands back, as copies.
struct Recorded : RecoverySink {
  struct Sess {
    std::string client;
    mqtt::ProtocolVersion version;
    uint32_t expiry_s;
    int64_t offline_ms;
    bool has_will;
    std::string will_topic, will_payload, will_props;
    uint32_t will_delay_s;
  };
  struct Delivery {
    std::string client, topic, payload;
    uint64_t seq, id;
    Qos qos;
    uint16_t packet_id;
    bool released;
    int64_t expiry;
  };
  std::vector<Sess> sessions;
  std::vector<std::pair<std::string, std::string>> subs;  // client, filter
  std::vector<mqtt::SubscriptionOptions> sub_options;
  std::vector<uint32_t> sub_ids;
  std::vector<Delivery> deliveries;
  std::vector<std::pair<std::string, uint16_t>> unreleased;
  std::vector<std::pair<std::string, std::string>> retained;  // topic, payload

  void Session(const SessionView& s, const WillView* w) override {
    Sess r{
        std::string(s.client_id), s.version, s.expiry_s, s.offline_ms, w != nullptr, {}, {}, {}, 0};
    if (w != nullptr) {
      r.will_topic = w->topic;
      r.will_payload = w->payload;
      r.will_props = w->properties;
      r.will_delay_s = w->delay_s;
    }
    sessions.push_back(r);
  }
  void Subscription(std::string_view c, const SubscriptionView& s) override {
    subs.emplace_back(c, s.filter);
    sub_options.push_back(s.options);
    sub_ids.push_back(s.subscription_id);
  }
  void Delivery(std::string_view c, const DeliveryView& d) override {
    deliveries.push_back({std::string(c), std::string(d.message.topic),
                          std::string(d.message.payload), d.seq, d.message.id, d.qos, d.packet_id,
                          d.released, d.message.expiry_deadline_ms});
  }
  void UnreleasedQos2(std::string_view c, uint16_t id) override { unreleased.emplace_back(c, id); }
  void Retained(const MessageView& m) override { retained.emplace_back(m.topic, m.payload); }
};

// Counts committed tokens; waits for them.
struct Committed : StoreListener {
  std::mutex mu;
  std::condition_variable cv;
  std::set<uint64_t> tokens;
  void OnStoreCommitted(uint64_t t) override {
    std::lock_guard<std::mutex> l(mu);
    tokens.insert(t);
    cv.notify_all();
  }
  bool WaitFor(uint64_t t, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, timeout, [&] { return tokens.contains(t); });
  }
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringmq-store-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.data_dir = dir_ + "/data";
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // Opens the store and recovers into `out` (the writer starts).
  void Open(Recorded* out) {
    store_.reset();
    auto s = SqliteStore::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    store_->SetListener(&committed_);
    Recorded ignored;
    ASSERT_TRUE(store_->Recover(out != nullptr ? *out : ignored).ok());
  }
  // Closes (commits everything) and reopens, returning what came back.
  Recorded Reopen() {
    Recorded r;
    store_->Close();
    Open(&r);
    return r;
  }
  std::string DbPath() const { return options_.data_dir + "/ringmq.db"; }
  // Runs one SQL query on the file (another connection) and returns the first integer.
  int64_t Query(const std::string& sql) const {
    sqlite3* db = nullptr;
    sqlite3_open(DbPath().c_str(), &db);
    sqlite3_stmt* st = nullptr;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  }

  std::string dir_;
  StoreOptions options_;
  Committed committed_;
  std::unique_ptr<SqliteStore> store_;
};

DeliveryView Msg(uint64_t seq, uint64_t id, std::string_view payload) {
  DeliveryView d;
  d.seq = seq;
  d.qos = Qos::k1;
  d.message.topic = "t/1";
  d.message.payload = payload;
  d.message.qos = Qos::k2;
  d.message.id = id;
  return d;
}

constexpr uint64_t kBrokerId = uint64_t{1} << 56;  // a broker-made id (top byte: shard + 1)

TEST_F(SqliteStoreTest, EveryRecordTypeComesBackAfterAReopen) {
  Open(nullptr);
  store_->SessionUpdated({"c1", mqtt::ProtocolVersion::kMqtt5, 3600}, 0);
  const WillView will{"will/t", "gone", "\x01\x01", Qos::k1, true, 30, 60, true};
  store_->WillSet("c1", &will, 0);
  mqtt::SubscriptionOptions o;
  o.max_qos = Qos::k2;
  o.no_local = true;
  o.retain_as_published = true;
  o.retain_handling = mqtt::RetainHandling::kDoNotSend;
  store_->SubscriptionAdded("c1", {"a/+", o, 7}, 0);
  store_->SubscriptionAdded("c1", {"$share/g/b/#", {}, 0}, 0);
  DeliveryView expiring = Msg(2, kBrokerId + 2, "p2");
  expiring.message.expiry_deadline_ms = base::MonotonicMs() + 3'600'000;
  store_->MessageQueued("c1", Msg(1, kBrokerId + 1, "p1"), 0);
  store_->MessageQueued("c1", expiring, 0);
  store_->MessageSent("c1", 1, 42, /*released=*/true, 0);
  store_->UnreleasedQos2Added("c1", 9, 0);
  MessageView ret;
  ret.topic = "r/1";
  ret.payload = "kept";
  ret.qos = Qos::k1;
  ret.retain = true;
  ASSERT_TRUE(store_->RetainedSet(ret, 77));  // durable later: the token is reported
  ASSERT_TRUE(committed_.WaitFor(77));

  Recorded r = Reopen();
  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_EQ(r.sessions[0].client, "c1");
  EXPECT_EQ(r.sessions[0].version, mqtt::ProtocolVersion::kMqtt5);
  EXPECT_EQ(r.sessions[0].expiry_s, 3600u);
  ASSERT_TRUE(r.sessions[0].has_will);
  EXPECT_EQ(r.sessions[0].will_topic, "will/t");
  EXPECT_EQ(r.sessions[0].will_payload, "gone");
  EXPECT_EQ(r.sessions[0].will_props, "\x01\x01");
  EXPECT_EQ(r.sessions[0].will_delay_s, 30u);
  ASSERT_EQ(r.subs.size(), 2u);
  EXPECT_EQ(r.subs[1].second, "a/+");  // in key order: "$share..." sorts first
  EXPECT_EQ(r.sub_options[1], o);
  EXPECT_EQ(r.sub_ids[1], 7u);
  ASSERT_EQ(r.deliveries.size(), 2u);
  EXPECT_EQ(r.deliveries[0].seq, 1u);
  EXPECT_EQ(r.deliveries[0].payload, "p1");
  EXPECT_EQ(r.deliveries[0].packet_id, 42);
  EXPECT_TRUE(r.deliveries[0].released);
  EXPECT_EQ(r.deliveries[0].expiry, 0);
  EXPECT_EQ(r.deliveries[1].packet_id, 0);  // queued
  // The expiry comes back as a monotonic deadline about an hour away.
  EXPECT_NEAR(static_cast<double>(r.deliveries[1].expiry - base::MonotonicMs()), 3'600'000.0,
              5'000.0);
  // Recovered messages carry the store's ids (top byte 0).
  EXPECT_NE(r.deliveries[0].id, 0u);
  EXPECT_EQ(r.deliveries[0].id >> 56, 0u);
  ASSERT_EQ(r.unreleased.size(), 1u);
  EXPECT_EQ(r.unreleased[0].second, 9);
  ASSERT_EQ(r.retained.size(), 1u);
  EXPECT_EQ(r.retained[0].second, "kept");

  // And deleted, each one.
  store_->WillSet("c1", nullptr, 0);
  store_->SubscriptionRemoved("c1", "a/+", 0);
  store_->MessageDone("c1", 1, 0);
  store_->UnreleasedQos2Released("c1", 9, 0);
  ret.payload = "";
  store_->RetainedSet(ret, 0);
  r = Reopen();
  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_FALSE(r.sessions[0].has_will);
  EXPECT_EQ(r.subs.size(), 1u);
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].seq, 2u);
  EXPECT_TRUE(r.unreleased.empty());
  EXPECT_TRUE(r.retained.empty());

  store_->SessionEnded("c1", 0);  // with everything of its own
  r = Reopen();
  EXPECT_TRUE(r.sessions.empty());
  EXPECT_TRUE(r.subs.empty());
  EXPECT_TRUE(r.deliveries.empty());
  store_->Close();
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), 0);
  EXPECT_EQ(Query("PRAGMA auto_vacuum"), 2);  // incremental, set when the store was made
}

TEST_F(SqliteStoreTest, ABodyIsStoredOnceAndGoesWithItsLastQueue) {
  Open(nullptr);
  for (const char* c : {"a", "b", "c"}) {
    store_->SessionUpdated({c, mqtt::ProtocolVersion::kMqtt311, 60}, 0);
    store_->MessageQueued(c, Msg(1, kBrokerId + 5, "shared"), 0);
  }
  store_->MessageQueued("a", Msg(2, kBrokerId + 6, "own"), 0);
  store_->Close();
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), 2);
  EXPECT_EQ(Query("SELECT refs FROM messages WHERE CAST(payload AS TEXT) = 'shared'"), 3);

  // After a restart the recovered id still names the one body.
  Recorded r;
  Open(&r);
  ASSERT_EQ(r.deliveries.size(), 4u);
  EXPECT_EQ(r.deliveries[0].id, r.deliveries[2].id);  // a/1 and b/1
  const uint64_t recovered = r.deliveries[0].id;
  store_->MessageQueued("d", Msg(1, recovered, "shared"), 0);  // e.g. handed to another member
  store_->MessageDone("a", 1, 0);
  store_->MessageDone("b", 1, 0);
  store_->Close();
  EXPECT_EQ(Query("SELECT refs FROM messages WHERE CAST(payload AS TEXT) = 'shared'"), 2);
  Open(nullptr);
  store_->MessageDone("c", 1, 0);
  store_->MessageDone("d", 1, 0);
  store_->Close();
  EXPECT_EQ(Query("SELECT count(*) FROM messages WHERE CAST(payload AS TEXT) = 'shared'"), 0);
  EXPECT_EQ(Query("SELECT count(*) FROM messages"), 1);
}

TEST_F(SqliteStoreTest, ExpiryCountsTheTimeTheBrokerWasDown) {
  Open(nullptr);
  store_->SessionUpdated({"short", mqtt::ProtocolVersion::kMqtt5, 1}, 0);
  store_->SessionUpdated({"long", mqtt::ProtocolVersion::kMqtt5, 3600}, 0);
  store_->SessionUpdated({"never", mqtt::ProtocolVersion::kMqtt5, UINT32_MAX}, 0);
  store_->SessionOffline("short", 0);
  store_->SessionOffline("long", 0);
  store_->SessionOffline("never", 0);
  store_->MessageQueued("long", Msg(1, kBrokerId + 1, "stays"), 0);
  DeliveryView gone = Msg(2, kBrokerId + 2, "expires");
  gone.message.expiry_deadline_ms = base::MonotonicMs() + 1;
  store_->MessageQueued("long", gone, 0);
  MessageView ret;
  ret.topic = "r";
  ret.payload = "old";
  ret.expiry_deadline_ms = base::MonotonicMs() + 1;
  store_->RetainedSet(ret, 0);
  store_->Close();
  // They went offline two seconds ago.
  const int64_t then = WallMs() - 2000;
  EXPECT_EQ(
      Query("UPDATE sessions SET offline_since_ms = " + std::to_string(then) + " RETURNING 1"), 1);
  Recorded r;
  Open(&r);
  ASSERT_EQ(r.sessions.size(), 2u);
  for (const auto& s : r.sessions) {
    EXPECT_NE(s.client, "short");
    EXPECT_GE(s.offline_ms, 2000);
  }
  ASSERT_EQ(r.deliveries.size(), 1u);
  EXPECT_EQ(r.deliveries[0].payload, "stays");
  EXPECT_TRUE(r.retained.empty());
  store_->Close();
  EXPECT_EQ(Query("SELECT count(*) FROM deliveries WHERE client = 'short'"), 0);
}

TEST_F(SqliteStoreTest, AVersionOneStoreIsMigratedWithItsContents) {
  std::filesystem::create_directories(options_.data_dir);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(Migrate(db, 1).ok());
  ASSERT_TRUE(Exec(db, "INSERT INTO sessions VALUES (x'6f6c64', 4, 600)").ok());
  sqlite3_close(db);
  Recorded r;
  Open(&r);
  ASSERT_EQ(r.sessions.size(), 1u);
  EXPECT_EQ(r.sessions[0].client, "old");
  EXPECT_EQ(r.sessions[0].expiry_s, 600u);
  store_->Close();
  EXPECT_EQ(Query("PRAGMA user_version"), kSchemaVersion);
}

TEST_F(SqliteStoreTest, ANewerSchemaIsRefusedAndKept) {
  Open(nullptr);
  store_->Close();
  store_.reset();
  EXPECT_EQ(Query("PRAGMA user_version = 99"), -1);  // no row; sets it
  auto s = SqliteStore::Open(options_);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find(DbPath()), std::string::npos) << msg;
  EXPECT_NE(msg.find("schema version 99"), std::string::npos) << msg;
  EXPECT_EQ(Query("PRAGMA user_version"), 99);  // untouched
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsRefusedAndKept) {
  std::filesystem::create_directories(options_.data_dir);
  const std::string junk(8192, 'x');
  std::ofstream(DbPath()) << junk;
  auto s = SqliteStore::Open(options_);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find(DbPath()), std::string::npos) << msg;
  EXPECT_NE(msg.find("ringmq-store check"), std::string::npos) << msg;
  EXPECT_EQ(std::filesystem::file_size(DbPath()), junk.size());
}

TEST_F(SqliteStoreTest, ADamagedPageFailsTheCheckAndTheFileIsKept) {
  Open(nullptr);
  for (uint64_t i = 1; i <= 2000; ++i) {
    store_->SessionUpdated({"c" + std::to_string(i), mqtt::ProtocolVersion::kMqtt5, 60}, 0);
    store_->MessageQueued("c" + std::to_string(i), Msg(1, kBrokerId + i, std::string(200, 'p')), 0);
  }
  store_->Close();
  store_.reset();
  sqlite3* db = nullptr;  // everything into the main file, so the damage below is what is read
  sqlite3_open(DbPath().c_str(), &db);
  sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_close(db);
  const auto size = std::filesystem::file_size(DbPath());
  ASSERT_GT(size, 100'000u);
  {
    std::fstream f(DbPath(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    const std::string garbage(8192, '\xa5');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto s = SqliteStore::Open(options_);
  ASSERT_FALSE(s.ok());
  const std::string msg(s.status().message());
  EXPECT_NE(msg.find(DbPath()), std::string::npos) << msg;
  EXPECT_EQ(std::filesystem::file_size(DbPath()), size);
}

TEST_F(SqliteStoreTest, OneBrokerPerFolder) {
  Open(nullptr);
  auto second = SqliteStore::Open(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string(second.status().message()).find("in use by another ringmq"),
            std::string::npos)
      << second.status();
}

TEST_F(SqliteStoreTest, WritesFromManyThreadsAllCommitAndReportTheirTokens) {
  Open(nullptr);
  constexpr int kThreads = 4, kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      const std::string c = "w" + std::to_string(t);
      store_->SessionUpdated({c, mqtt::ProtocolVersion::kMqtt5, 60}, 0);
      for (int i = 1; i <= kEach; ++i) {
        const uint64_t token = (uint64_t(t) << 32) | uint64_t(i);
        store_->MessageQueued(c, Msg(uint64_t(i), kBrokerId + token, "x"), token);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(committed_.WaitFor((uint64_t(t) << 32) | kEach));
  }
  EXPECT_EQ(committed_.tokens.size(), size_t{kThreads} * kEach);
  EXPECT_GE(store_->Stats().commits, 1u);
  Recorded r = Reopen();
  EXPECT_EQ(r.deliveries.size(), size_t{kThreads} * kEach);
}

}  // namespace
}  // namespace ringmq::persistence::sqlite
