// message_log's pieces without the ABI: the line format (parsed back with nlohmann), UTF-8
// checks, payload encodings and truncation, topic filters, option parsing.
#include <nlohmann/json.hpp>
#include <string>

#include <gtest/gtest.h>

#include "plugins/message_log/line_format.h"
#include "plugins/message_log/record_ring.h"
#include "plugins/message_log/settings.h"
#include "plugins/message_log/topic_filter.h"
#include "tests/plugins/fake_host.h"

namespace ringmq::message_log {
namespace {

using nlohmann::json;

Record MakeRecord(std::string_view id, std::string_view topic, std::string_view payload,
                  PayloadMode mode, bool truncated = false) {
  Record r;
  r.time_ms = 1714566896789;  // 2024-05-01T12:34:56.789Z
  r.has_client = true;
  r.has_username = true;
  r.client_id_len = static_cast<uint32_t>(id.size());
  r.username_len = 5;
  r.topic_len = static_cast<uint32_t>(topic.size());
  r.bytes = std::string(id) + "alice" + std::string(topic) + std::string(payload);
  r.payload_mode = mode;
  r.payload_size = payload.size() + (truncated ? 10 : 0);
  r.truncated = truncated;
  r.qos = 1;
  r.retain = true;
  return r;
}

json Format(const Record& r) {
  LineFormatter f;
  std::string line;
  f.Append(r, &line);
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line per record";
  return json::parse(line, nullptr, /*allow_exceptions=*/false);
}

TEST(MessageLogFormat, FieldsInOrder) {
  const json j = Format(MakeRecord("c1", "a/b", "", PayloadMode::kNone));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["time"], "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(j["event"], "published");
  EXPECT_EQ(j["client_id"], "c1");
  EXPECT_EQ(j["username"], "alice");
  EXPECT_EQ(j["topic"], "a/b");
  EXPECT_EQ(j["qos"], 1);
  EXPECT_EQ(j["retain"], true);
  EXPECT_EQ(j["size"], 0);
  EXPECT_FALSE(j.contains("payload"));
  EXPECT_FALSE(j.contains("encoding"));
  EXPECT_FALSE(j.contains("reason"));
  EXPECT_EQ(j.size(), 8u);
}

TEST(MessageLogFormat, TimeIsUtcWithMillisecondsAcrossSeconds) {
  Record r = MakeRecord("c", "t", "", PayloadMode::kNone);
  LineFormatter f;  // one formatter: its cached second must not leak into the next second
  const std::pair<int64_t, const char*> cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {1714566896007, "2024-05-01T12:34:56.007Z"},
      {1714566896999, "2024-05-01T12:34:56.999Z"},
      {1714566897000, "2024-05-01T12:34:57.000Z"},
      {951782400123, "2000-02-29T00:00:00.123Z"},
  };
  for (const auto& [ms, want] : cases) {
    r.time_ms = ms;
    std::string line;
    f.Append(r, &line);
    EXPECT_EQ(json::parse(line, nullptr, false)["time"], want) << ms;
  }
}

TEST(MessageLogFormat, NoClientAndNoUsernameAreNull) {
  Record r = MakeRecord("", "t", "", PayloadMode::kNone);
  r.has_client = false;
  r.has_username = false;
  r.username_len = 0;
  r.bytes = "t";
  const json j = Format(r);
  EXPECT_TRUE(j["client_id"].is_null());
  EXPECT_TRUE(j["username"].is_null());
  EXPECT_EQ(j["topic"], "t");
}

TEST(MessageLogFormat, DroppedHasItsReason) {
  Record r = MakeRecord("c", "t", "", PayloadMode::kNone);
  r.event = Event::kDropped;
  const std::pair<uint32_t, const char*> cases[] = {
      {RINGMQ_DROP_OFFLINE, "offline"},
      {RINGMQ_DROP_SLOW_CONSUMER, "slow_consumer"},
      {RINGMQ_DROP_QUEUE_FULL, "queue_full"},
      {RINGMQ_DROP_EXPIRED, "expired"},
      {RINGMQ_DROP_TOO_LARGE, "too_large"},
      {RINGMQ_DROP_NOT_STORED, "not_stored"},
      {77, "other"},
  };
  for (const auto& [reason, want] : cases) {
    r.drop_reason = reason;
    const json j = Format(r);
    EXPECT_EQ(j["event"], "dropped");
    EXPECT_EQ(j["reason"], want) << reason;
  }
}

TEST(MessageLogFormat, PayloadEncodings) {
  const std::string binary("\x00\xff\x80hi", 5);
  {
    const json j = Format(MakeRecord("c", "t", "héllo", PayloadMode::kUtf8));
    EXPECT_EQ(j["payload"], "héllo");
    EXPECT_EQ(j["encoding"], "utf8");
    EXPECT_EQ(j["truncated"], false);
  }
  {
    const json j = Format(MakeRecord("c", "t", binary, PayloadMode::kBase64));
    EXPECT_EQ(j["payload"], "AP+AaGk=");
    EXPECT_EQ(j["encoding"], "base64");
  }
  {
    const json j = Format(MakeRecord("c", "t", "plain", PayloadMode::kAuto));
    EXPECT_EQ(j["payload"], "plain");
    EXPECT_EQ(j["encoding"], "utf8");
  }
  {
    const json j = Format(MakeRecord("c", "t", binary, PayloadMode::kAuto));
    EXPECT_EQ(j["payload"], "AP+AaGk=");
    EXPECT_EQ(j["encoding"], "base64");
  }
  {
    // utf8 mode with invalid bytes: replaced, never an abort.
    const json j = Format(MakeRecord("c", "t",
                                     "a\xff"
                                     "b",
                                     PayloadMode::kUtf8));
    EXPECT_EQ(j["payload"],
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(j["encoding"], "utf8");
  }
  {
    const json j = Format(MakeRecord("c", "t", "", PayloadMode::kBase64));
    EXPECT_EQ(j["payload"], "");
  }
}

TEST(MessageLogFormat, InvalidUtf8InNamesIsReplaced) {
  const json j = Format(MakeRecord("c\xc3", "t/\xff", "", PayloadMode::kNone));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["client_id"], "c\xEF\xBF\xBD");
  EXPECT_EQ(j["topic"], "t/\xEF\xBF\xBD");
}

TEST(MessageLogFormat, QuotesBackslashesAndControlCharactersAreEscaped) {
  const std::string payload(
      "say \"hi\"\\\n\t\x01\x00"
      "end",
      16);
  const json j = Format(MakeRecord("c\"1", "a/\\", payload, PayloadMode::kUtf8));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["client_id"], "c\"1");
  EXPECT_EQ(j["topic"], "a/\\");
  EXPECT_EQ(j["payload"], payload);
}

TEST(MessageLogFormat, TruncatedUtf8DropsACutCharacter) {
  // "aé" cut after "a\xc3": the half character goes, and auto still says utf8.
  for (PayloadMode mode : {PayloadMode::kUtf8, PayloadMode::kAuto}) {
    const json j = Format(MakeRecord("c", "t", "a\xc3", mode, /*truncated=*/true));
    EXPECT_EQ(j["payload"], "a");
    EXPECT_EQ(j["encoding"], "utf8");
    EXPECT_EQ(j["truncated"], true);
    EXPECT_EQ(j["size"], 12);
  }
  // base64 keeps the bytes as they are.
  const json j = Format(MakeRecord("c", "t", "a\xc3", PayloadMode::kBase64, /*truncated=*/true));
  EXPECT_EQ(j["payload"], "YcM=");
}

TEST(MessageLogFormat, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("ascii"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(IsValidUtf8(std::string("\0", 1)));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // cut short
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
  EXPECT_EQ(WithoutCutSequence("ab\xe2\x82"), "ab");
  EXPECT_EQ(WithoutCutSequence("ab\xe2\x82\xac"), "ab\xe2\x82\xac");
  EXPECT_EQ(WithoutCutSequence("ab\xf0"), "ab");
  EXPECT_EQ(WithoutCutSequence("abc"), "abc");
}

TEST(MessageLogTopicFilter, Matching) {
  TopicFilterSet f;
  std::string error;
  ASSERT_TRUE(f.Add("sensors/+/temp", &error)) << error;
  ASSERT_TRUE(f.Add("alarms/#", &error)) << error;
  ASSERT_TRUE(f.Add("exact", &error)) << error;
  EXPECT_TRUE(f.Matches("sensors/kitchen/temp"));
  EXPECT_FALSE(f.Matches("sensors/kitchen/hum"));
  EXPECT_FALSE(f.Matches("sensors/kitchen/temp/x"));
  EXPECT_FALSE(f.Matches("sensors/temp"));
  EXPECT_TRUE(f.Matches("sensors//temp"));  // '+' matches an empty level
  EXPECT_TRUE(f.Matches("alarms"));         // '#' matches the parent level too
  EXPECT_TRUE(f.Matches("alarms/a/b/c"));
  EXPECT_FALSE(f.Matches("alarmsx"));
  EXPECT_TRUE(f.Matches("exact"));
  EXPECT_FALSE(f.Matches("exact/"));

  TopicFilterSet all;
  ASSERT_TRUE(all.Add("#", &error));
  EXPECT_TRUE(all.Matches("a/b"));
  EXPECT_FALSE(all.Matches("$SYS/broker/x"));  // wildcards do not match '$' topics
  TopicFilterSet plus;
  ASSERT_TRUE(plus.Add("+/x", &error));
  EXPECT_FALSE(plus.Matches("$SYS/x"));
  TopicFilterSet sys;
  ASSERT_TRUE(sys.Add("$SYS/#", &error));
  EXPECT_TRUE(sys.Matches("$SYS/broker/x"));
  EXPECT_FALSE(TopicFilterSet().Matches("a"));
}

TEST(MessageLogTopicFilter, InvalidFiltersAreRefused) {
  for (const char* bad : {"", "a/#/b", "a+/b", "a/b#", "##", "a/+x"}) {
    TopicFilterSet f;
    std::string error;
    EXPECT_FALSE(f.Add(bad, &error)) << bad;
  }
}

bool Parse(testing::OptionList& options, Settings* s, std::string* error) {
  const ringmq_plugin_config config = options.config("message_log", 1);
  return ParseSettings(config, s, error);
}

TEST(MessageLogSettings, DefaultsAndValues) {
  Settings s;
  std::string error;
  testing::OptionList minimal;
  minimal.Add("file", "/tmp/x.log");
  ASSERT_TRUE(Parse(minimal, &s, &error)) << error;
  EXPECT_EQ(s.file, "/tmp/x.log");
  EXPECT_EQ(s.events, kEventPublished);
  EXPECT_EQ(s.payload, PayloadMode::kNone);
  EXPECT_TRUE(s.topics.Matches("a/b"));  // "#" by default
  EXPECT_FALSE(s.topics.Matches("$SYS/a"));

  testing::OptionList all;
  all.Add("file", "f")
      .Add("events", "published, delivered,dropped")
      .Add("payload", "auto")
      .Add("payload_max", "16")
      .Add("max_queue", "100")
      .Add("max_queue_bytes", "65536")
      .Add("rotate_bytes", "1000")
      .Add("rotate_keep", "3")
      .Add("topics", "a/+, b/#")
      .Add("flush_ms", "5");
  ASSERT_TRUE(Parse(all, &s, &error)) << error;
  EXPECT_EQ(s.events, kEventPublished | kEventDelivered | kEventDropped);
  EXPECT_EQ(s.payload, PayloadMode::kAuto);
  EXPECT_EQ(s.payload_max_bytes, 16u);
  EXPECT_EQ(s.max_queue, 100u);
  EXPECT_EQ(s.max_queue_bytes, 65536u);
  EXPECT_EQ(s.rotate_bytes, 1000u);
  EXPECT_EQ(s.rotate_keep, 3u);
  EXPECT_EQ(s.flush_ms, 5u);
  EXPECT_TRUE(s.topics.Matches("a/x"));
  EXPECT_TRUE(s.topics.Matches("b/x/y"));
  EXPECT_FALSE(s.topics.Matches("c"));
}

TEST(MessageLogSettings, ErrorsNameTheOption) {
  const std::pair<std::vector<std::pair<std::string, std::string>>, std::string> cases[] = {
      {{}, "'file' is required"},
      {{{"file", "f"}, {"colour", "red"}}, "unknown option 'colour'"},
      {{{"file", "f"}, {"file", "g"}}, "'file' is given twice"},
      {{{"file", "f"}, {"events", "published,sent"}}, "unknown event 'sent'"},
      {{{"file", "f"}, {"events", "published,,dropped"}}, "option 'events': an empty item"},
      {{{"file", "f"}, {"payload", "hex"}}, "option 'payload'"},
      {{{"file", "f"}, {"payload_max", "-1"}}, "option 'payload_max'"},
      {{{"file", "f"}, {"max_queue", "0"}}, "option 'max_queue'"},
      {{{"file", "f"}, {"max_queue", "12x"}}, "option 'max_queue'"},
      {{{"file", "f"}, {"rotate_keep", "0"}}, "option 'rotate_keep'"},
      {{{"file", "f"}, {"flush_ms", ""}}, "option 'flush_ms'"},
      {{{"file", "f"}, {"topics", "a/#/b"}}, "option 'topics'"},
      {{{"file", ""}}, "option 'file'"},
  };
  for (const auto& [options, want] : cases) {
    testing::OptionList list;
    for (const auto& [k, v] : options) {
      list.Add(k, v);
    }
    Settings s;
    std::string error;
    EXPECT_FALSE(Parse(list, &s, &error)) << want;
    EXPECT_NE(error.find(want), std::string::npos) << "error: " << error << "\nwant: " << want;
  }
}

}  // namespace
}  // namespace ringmq::message_log
