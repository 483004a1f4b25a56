// message_log through its C ABI with a fake host: the lines it writes (parsed back field by
// field), events, payload options, topic filters, a full queue dropping and counting (the
// writer held by PauseWriterForTest, not by timing), the drop report on tick, reload
// reopening the file, option errors, several cores at once.
#include <stdio.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "plugins/message_log/record_ring.h"
#include "tests/plugins/message_log_harness.h"

namespace ringmq::message_log {
namespace {

using testing::FakeClient;
using testing::OptionList;
using testing::OwnedMessage;

const char kDroppedTopic[] = "$SYS/broker/plugins/message_log/dropped";

OwnedMessage Msg(std::string topic, std::string payload = "", uint32_t qos = 0,
                 bool retain = false) {
  return OwnedMessage{std::move(topic), std::move(payload), qos, retain};
}

std::vector<testing::FakeHost::Published> DropReports(testing::FakeHost& host) {
  std::vector<testing::FakeHost::Published> out;
  for (auto& p : host.published()) {
    if (p.message.topic == kDroppedTopic) {
      out.push_back(p);
    }
  }
  return out;
}

TEST(MessageLogAbi, Descriptor) {
  testing::FakeHost host;
  const ringmq_plugin_descriptor* d = ringmq_plugin_entry(host.api());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->struct_size, sizeof(ringmq_plugin_descriptor));
  EXPECT_EQ(d->abi_major, RINGMQ_PLUGIN_ABI_MAJOR);
  EXPECT_EQ(d->abi_minor, RINGMQ_PLUGIN_ABI_MINOR);
  EXPECT_EQ(std::string(d->name.ptr, d->name.len), "message_log");
  EXPECT_EQ(d->hooks->struct_size, sizeof(ringmq_plugin_hooks));
  EXPECT_EQ(d->hooks->authenticate, nullptr);  // an observer decides nothing
  EXPECT_EQ(d->hooks->authorize_publish, nullptr);

  ringmq_host_api other = *host.api();
  other.abi_major = RINGMQ_PLUGIN_ABI_MAJOR + 1;
  EXPECT_EQ(ringmq_plugin_entry(&other), nullptr) << "another major is refused";
}

TEST(MessageLogAbi, PublishedLineFieldByField) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("payload", "utf8");
  h.InitOrFail(o);
  const FakeClient alice{"client-1", "alice"};
  const FakeClient anonymous{"client-2", std::nullopt};
  h.Publish(0, &alice, Msg("home/kitchen/temp", "21.5", 1, true));
  h.Publish(0, &anonymous, Msg("home/hall", "x", 2));
  h.Publish(0, nullptr, Msg("from/host", "", 0));  // host->publish: no client
  ASSERT_TRUE(h.WaitWritten(3));
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 3u);

  const auto& a = lines[0];
  EXPECT_EQ(a["event"], "published");
  EXPECT_EQ(a["client_id"], "client-1");
  EXPECT_EQ(a["username"], "alice");
  EXPECT_EQ(a["topic"], "home/kitchen/temp");
  EXPECT_EQ(a["qos"], 1);
  EXPECT_EQ(a["retain"], true);
  EXPECT_EQ(a["size"], 4);
  EXPECT_EQ(a["payload"], "21.5");
  EXPECT_EQ(a["encoding"], "utf8");
  EXPECT_EQ(a["truncated"], false);
  // time: RFC 3339 UTC with milliseconds, and now.
  const std::string time = a["time"];
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
  char year[5] = {};
  const time_t now = ::time(nullptr);
  strftime(year, sizeof(year), "%Y", gmtime(&now));
  EXPECT_EQ(time.substr(0, 4), year);

  EXPECT_EQ(lines[1]["client_id"], "client-2");
  EXPECT_TRUE(lines[1]["username"].is_null());
  EXPECT_EQ(lines[1]["qos"], 2);
  EXPECT_EQ(lines[1]["retain"], false);
  EXPECT_TRUE(lines[2]["client_id"].is_null());
  EXPECT_TRUE(lines[2]["username"].is_null());
  EXPECT_EQ(lines[2]["size"], 0);
}

TEST(MessageLogAbi, EventsOption) {
  const FakeClient c{"sub-1", "bob"};
  {
    // Default: published only.
    MessageLogHarness h;
    OptionList o;
    o.Add("file", h.Path("log"));
    h.InitOrFail(o);
    h.Deliver(0, c, Msg("a"));
    h.Drop(0, c, Msg("a"), RINGMQ_DROP_OFFLINE);
    h.Publish(0, &c, Msg("b"));
    h.Fini();  // drains
    const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0]["topic"], "b");
  }
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("events", "delivered,dropped");
  h.InitOrFail(o);
  h.Publish(0, &c, Msg("p"));
  h.Deliver(0, c, Msg("d", "", 1));
  h.Drop(0, c, Msg("x", "", 0), RINGMQ_DROP_SLOW_CONSUMER);
  h.Drop(0, c, Msg("y", "", 1), RINGMQ_DROP_EXPIRED);
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["event"], "delivered");
  EXPECT_EQ(lines[0]["client_id"], "sub-1");
  EXPECT_FALSE(lines[0].contains("reason"));
  EXPECT_EQ(lines[1]["event"], "dropped");
  EXPECT_EQ(lines[1]["reason"], "slow_consumer");
  EXPECT_EQ(lines[1]["topic"], "x");
  EXPECT_EQ(lines[2]["reason"], "expired");
}

TEST(MessageLogAbi, PayloadTruncatedAtPayloadMax) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("payload", "auto").Add("payload_max", "4");
  h.InitOrFail(o);
  const FakeClient c{"c"};
  h.Publish(0, &c, Msg("t", "abcdefgh"));
  h.Publish(0, &c, Msg("t", "abcd"));
  h.Publish(0, &c, Msg("t", std::string("\x01\xfe\xff\x00\x10", 5)));
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["payload"], "abcd");
  EXPECT_EQ(lines[0]["truncated"], true);
  EXPECT_EQ(lines[0]["size"], 8);
  EXPECT_EQ(lines[1]["payload"], "abcd");
  EXPECT_EQ(lines[1]["truncated"], false);
  EXPECT_EQ(lines[2]["payload"], "Af7/AA==");  // the first 4 bytes, base64
  EXPECT_EQ(lines[2]["encoding"], "base64");
  EXPECT_EQ(lines[2]["truncated"], true);
  EXPECT_EQ(lines[2]["size"], 5);
}

TEST(MessageLogAbi, OnlyMatchingTopicsAreLogged) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("topics", "sensors/+/temp, alarms/#");
  h.InitOrFail(o);
  const FakeClient c{"c"};
  for (const char* t : {"sensors/kitchen/temp", "sensors/kitchen/hum", "alarms", "alarms/fire/1",
                        "other", "$SYS/broker/x"}) {
    h.Publish(0, &c, Msg(t));
  }
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["topic"], "sensors/kitchen/temp");
  EXPECT_EQ(lines[1]["topic"], "alarms");
  EXPECT_EQ(lines[2]["topic"], "alarms/fire/1");
}

TEST(MessageLogAbi, FullQueueDropsAndCountsAndReports) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("max_queue", "4");
  h.InitOrFail(o);
  h.Tick(0, 1'000);  // the first tick publishes the count, 0 (a retained value from before goes)
  auto reports = DropReports(h.host());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].message.payload, "0");
  EXPECT_TRUE(reports[0].message.retain);
  EXPECT_EQ(reports[0].core_index, 0u);

  PauseWriterForTest(h.global());  // the writer takes nothing until resumed
  const FakeClient c{"c"};
  for (int i = 0; i < 10; ++i) {
    h.Publish(0, &c, Msg("t/" + std::to_string(i)));
  }
  h.Tick(0, 2'000);
  reports = DropReports(h.host());
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].message.payload, "6");
  EXPECT_TRUE(h.host().WaitForLog("dropped lines: +6, 6 in all", 0));
  h.Tick(0, 3'000);  // unchanged: nothing published, nothing logged
  EXPECT_EQ(DropReports(h.host()).size(), 2u);

  // More drops within 10 s of the last log: published at once, logged later.
  h.Publish(0, &c, Msg("t/late"));
  h.Tick(0, 4'000);
  reports = DropReports(h.host());
  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports[2].message.payload, "7");
  EXPECT_FALSE(h.host().WaitForLog("7 in all", 0));
  h.Tick(0, 12'000);
  EXPECT_TRUE(h.host().WaitForLog("dropped lines: +1, 7 in all", 0));

  ResumeWriterForTest(h.global());
  ASSERT_TRUE(h.WaitWritten(4));
  // Room again: lines are taken.
  h.Publish(0, &c, Msg("t/after"));
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(lines[i]["topic"], "t/" + std::to_string(i));  // the first four, in order
  }
  EXPECT_EQ(lines[4]["topic"], "t/after");
  EXPECT_TRUE(h.host().WaitForLog(": 5 lines written, 7 dropped", 0));
}

TEST(MessageLogAbi, QueueBytesBound) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log"))
      .Add("payload", "utf8")
      .Add("payload_max", "1000")
      .Add("max_queue_bytes", "4096");
  h.InitOrFail(o);
  PauseWriterForTest(h.global());
  const FakeClient c{"c"};
  const std::string payload(1000, 'p');
  for (int i = 0; i < 10; ++i) {
    h.Publish(0, &c, Msg("t", payload));
  }
  const size_t per_record = sizeof(Record) + 1 + 1 + 1000;  // client id, topic, payload
  const size_t fit = 4096 / per_record;
  ASSERT_GT(fit, 0u);
  ASSERT_LT(fit, 10u);
  h.Tick(0, 1'000);
  const auto reports = DropReports(h.host());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].message.payload, std::to_string(10 - fit));
  ResumeWriterForTest(h.global());
  h.Fini();
  EXPECT_EQ(MessageLogHarness::ReadLines(h.Path("log")).size(), fit);
}

TEST(MessageLogAbi, ReloadReopensTheFileAndTakesNewOptions) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("flush_ms", "1");
  h.InitOrFail(o);
  const FakeClient c{"c"};
  h.Publish(0, &c, Msg("before", "p1"));
  ASSERT_TRUE(h.WaitWritten(1));
  // logrotate: move the file away, then SIGHUP.
  ASSERT_EQ(rename(h.Path("log").c_str(), h.Path("log.old").c_str()), 0);
  OptionList changed;
  changed.Add("file", h.Path("log")).Add("flush_ms", "1").Add("payload", "utf8");
  std::string error;
  ASSERT_TRUE(h.Reload(changed, &error)) << error;
  h.Publish(0, &c, Msg("after", "p2"));
  ASSERT_TRUE(h.WaitWritten(2));

  auto old_lines = MessageLogHarness::ReadLines(h.Path("log.old"));
  ASSERT_EQ(old_lines.size(), 1u);
  EXPECT_EQ(old_lines[0]["topic"], "before");
  EXPECT_FALSE(old_lines[0].contains("payload"));
  auto new_lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_EQ(new_lines[0]["topic"], "after");
  EXPECT_EQ(new_lines[0]["payload"], "p2");  // the new option

  // A bad reload keeps everything as it was, and says which option.
  OptionList bad;
  bad.Add("file", h.Path("other")).Add("colour", "red");
  EXPECT_FALSE(h.Reload(bad, &error));
  EXPECT_NE(error.find("unknown option 'colour'"), std::string::npos) << error;
  OptionList unopenable;
  unopenable.Add("file", h.Path("no/such/dir/log"));
  EXPECT_FALSE(h.Reload(unopenable, &error));
  EXPECT_NE(error.find("no/such/dir/log"), std::string::npos) << error;
  h.Publish(0, &c, Msg("still", "p3"));
  h.Fini();
  new_lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(new_lines.size(), 2u);
  EXPECT_EQ(new_lines[1]["payload"], "p3");
  EXPECT_FALSE(std::filesystem::exists(h.Path("other")));
}

TEST(MessageLogAbi, InitErrors) {
  MessageLogHarness h;
  std::string error;
  OptionList unknown;
  unknown.Add("file", h.Path("log")).Add("bogus", "1");
  EXPECT_FALSE(h.Init(unknown, &error));
  EXPECT_NE(error.find("unknown option 'bogus'"), std::string::npos) << error;
  OptionList missing;
  missing.Add("payload", "utf8");
  EXPECT_FALSE(h.Init(missing, &error));
  EXPECT_NE(error.find("'file' is required"), std::string::npos) << error;
  OptionList unopenable;
  unopenable.Add("file", h.Path("missing-dir/log"));
  EXPECT_FALSE(h.Init(unopenable, &error));
  EXPECT_NE(error.find("missing-dir/log"), std::string::npos) << error;
  EXPECT_FALSE(std::filesystem::exists(h.Path("log")));
}

TEST(MessageLogAbi, AppendsToAnExistingFile) {
  MessageLogHarness h;
  {
    std::ofstream f(h.Path("log"));
    f << "{\"earlier\":true}\n";
  }
  OptionList o;
  o.Add("file", h.Path("log"));
  h.InitOrFail(o);
  const FakeClient c{"c"};
  h.Publish(0, &c, Msg("t"));
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["earlier"], true);
  EXPECT_EQ(lines[1]["topic"], "t");
}

// Two shards publishing at the same time, each on its own thread: every line arrives, each
// core's in its order (run under TSan/ASan too).
TEST(MessageLogAbi, TwoCoresAtOnce) {
  constexpr int kPerCore = 20'000;
  MessageLogHarness h(2);
  OptionList o;
  o.Add("file", h.Path("log")).Add("max_queue", "32768").Add("flush_ms", "1");
  h.InitOrFail(o);
  const FakeClient clients[2] = {{"c0"}, {"c1"}};
  std::vector<std::thread> shards;
  for (uint32_t core = 0; core < 2; ++core) {
    shards.emplace_back([&, core] {
      for (int i = 0; i < kPerCore; ++i) {
        h.Publish(core, &clients[core], Msg("t/" + std::to_string(i)));
      }
    });
  }
  for (auto& t : shards) {
    t.join();
  }
  ASSERT_TRUE(h.WaitWritten(2 * kPerCore));
  h.Tick(1, 1'000);
  EXPECT_TRUE(DropReports(h.host()).empty()) << "only core 0 reports";
  h.Tick(0, 1'000);
  const auto reports = DropReports(h.host());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].message.payload, "0");
  h.Fini();
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 2u * kPerCore);
  int next[2] = {0, 0};
  for (const auto& j : lines) {
    const int core = j["client_id"] == "c0" ? 0 : 1;
    EXPECT_EQ(j["topic"], "t/" + std::to_string(next[core])) << "core " << core;
    ++next[core];
  }
  EXPECT_EQ(next[0], kPerCore);
  EXPECT_EQ(next[1], kPerCore);
}

}  // namespace
}  // namespace ringmq::message_log
