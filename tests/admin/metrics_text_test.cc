// The admin listener's pieces without sockets: the Prometheus text of a BrokerStats, the
// request-head parser, the responses, /healthz and /readyz.
#include "core/server/metrics_text.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "core/server/admin_http.h"
#include "core/server/health.h"

namespace ringmq::server {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

broker::BrokerStats TwoShards() {
  broker::BrokerStats s;
  s.version = "ringmq 0.1.0";
  s.uptime_s = 42;
  s.shards.resize(2);
  s.shards[0].clients = 3;
  s.shards[1].loop_busy_ns = 1'500'000'000;
  s.shards[0].heartbeat_ms = 10'000;
  s.shards[1].heartbeat_ms = 9'500;
  s.clients = 3;
  s.messages_in_by_qos = {5, 6, 7};
  s.messages_out_by_qos = {1, 0, 2};
  s.bytes_in = 1234;
  s.queued_messages = 8;
  s.drops = {{"", "offline", 4}, {"$SYS/broker/limits/sessions", "limit_sessions", 1}};
  s.store.commits = 2;
  s.store.last_commit_us = 1500;
  s.store.commit_latency.buckets[0] = 1;  // <= 100 µs
  s.store.commit_latency.buckets[4] = 1;  // <= 2.5 ms
  s.store.commit_latency.count = 2;
  s.store.commit_latency.sum_us = 1580;
  return s;
}

TEST(MetricsTextTest, FamiliesHaveHelpTypeAndSamples) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  EXPECT_TRUE(HasLine(text, "# HELP ringmq_clients Connected MQTT clients.")) << text;
  EXPECT_TRUE(HasLine(text, "# TYPE ringmq_clients gauge"));
  EXPECT_TRUE(HasLine(text, "ringmq_clients 3"));
  EXPECT_TRUE(HasLine(text, "ringmq_build_info{version=\"ringmq 0.1.0\"} 1"));
  EXPECT_TRUE(HasLine(text, "ringmq_uptime_seconds 42"));
  EXPECT_TRUE(HasLine(text, "ringmq_shards 2"));
  EXPECT_TRUE(HasLine(text, "# TYPE ringmq_queued_messages gauge"));
  EXPECT_TRUE(HasLine(text, "ringmq_queued_messages 8"));
  EXPECT_EQ(text.back(), '\n');
}

TEST(MetricsTextTest, MessagesByQos) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  EXPECT_TRUE(HasLine(text, "# TYPE ringmq_messages_received_total counter"));
  EXPECT_TRUE(HasLine(text, "ringmq_messages_received_total{qos=\"0\"} 5"));
  EXPECT_TRUE(HasLine(text, "ringmq_messages_received_total{qos=\"1\"} 6"));
  EXPECT_TRUE(HasLine(text, "ringmq_messages_received_total{qos=\"2\"} 7"));
  EXPECT_TRUE(HasLine(text, "ringmq_messages_sent_total{qos=\"2\"} 2"));
  EXPECT_TRUE(HasLine(text, "ringmq_bytes_received_total 1234"));
}

TEST(MetricsTextTest, DropsAreOneFamilyWithAReason) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  EXPECT_TRUE(HasLine(text, "ringmq_drops_total{reason=\"offline\"} 4"));
  EXPECT_TRUE(HasLine(text, "ringmq_drops_total{reason=\"limit_sessions\"} 1"));
}

TEST(MetricsTextTest, PerShardLoopAndHeartbeat) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  EXPECT_TRUE(HasLine(text, "ringmq_shard_loop_busy_seconds_total{shard=\"0\"} 0"));
  EXPECT_TRUE(HasLine(text, "ringmq_shard_loop_busy_seconds_total{shard=\"1\"} 1.5"));
  EXPECT_TRUE(HasLine(text, "ringmq_shard_heartbeat_age_seconds{shard=\"0\"} 0.25"));
  EXPECT_TRUE(HasLine(text, "ringmq_shard_heartbeat_age_seconds{shard=\"1\"} 0.75"));
  EXPECT_TRUE(HasLine(text, "ringmq_shard_clients{shard=\"0\"} 3"));
}

TEST(MetricsTextTest, CommitHistogramIsCumulative) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  EXPECT_TRUE(HasLine(text, "# TYPE ringmq_store_commit_seconds histogram"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_bucket{le=\"0.0001\"} 1"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_bucket{le=\"0.001\"} 1"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_bucket{le=\"0.0025\"} 2"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_sum 0.00158"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commit_seconds_count 2"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_last_commit_seconds 0.0015"));
  EXPECT_TRUE(HasLine(text, "ringmq_store_commits_total 2"));
}

TEST(MetricsTextTest, PluginCallsAndEscapedLabels) {
  const std::vector<plugin::PluginCallTotal> calls = {{"auth\"file\\x\n", "authenticate", 9}};
  const std::string text = RenderMetrics(TwoShards(), calls, 10'250);
  EXPECT_TRUE(HasLine(
      text, "ringmq_plugin_calls_total{plugin=\"auth\\\"file\\\\x\\n\",hook=\"authenticate\"} 9"))
      << text;
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

TEST(MetricsTextTest, EveryCounterEndsInTotal) {
  const std::string text = RenderMetrics(TwoShards(), {}, 10'250);
  size_t at = 0;
  while ((at = text.find("# TYPE ", at)) != std::string::npos) {
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    if (line.ends_with(" counter")) {
      const std::string name = line.substr(7, line.size() - 7 - 8);
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
    at = end;
  }
}

TEST(AdminHttpTest, ParsesARequestHead) {
  RequestHead h = ParseRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(h.status, RequestHead::Status::kOk);
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/metrics");
  EXPECT_EQ(ParseRequestHead("GET /metrics HTTP/1.1\r\nHost: a\r\n").status,
            RequestHead::Status::kNeedMore);
  EXPECT_EQ(ParseRequestHead("GET /metrics\r\n\r\n").status, RequestHead::Status::kBad);
  EXPECT_EQ(ParseRequestHead("get / HTTP/1.1\r\n\r\n").status, RequestHead::Status::kBad);
  EXPECT_EQ(ParseRequestHead("GET metrics HTTP/1.1\r\n\r\n").status, RequestHead::Status::kBad);
  EXPECT_EQ(ParseRequestHead(std::string(kMaxRequestHeadBytes, 'a')).status,
            RequestHead::Status::kTooLarge);
}

TEST(AdminHttpTest, FormatsAResponse) {
  EXPECT_EQ(FormatResponse({.code = 405, .body = "only GET\n"}),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 9\r\nConnection: close\r\nAllow: GET\r\n\r\nonly GET\n");
}

TEST(HealthTest, HealthyWhileEveryShardTurns) {
  broker::BrokerStats s = TwoShards();
  EXPECT_EQ(Healthz(s, 10'250).code, 200);
  s.shards[1].heartbeat_ms = 10'250 - kStuckAfterMs - 1;
  const Response r = Healthz(s, 10'250);
  EXPECT_EQ(r.code, 503);
  EXPECT_NE(r.body.find("shard 1: stuck"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("shard 0"), std::string::npos) << r.body;
}

// During store recovery no shard has turned yet: alive, not stuck (a liveness probe must not
// kill a broker that recovers a large store; /readyz says it is not ready).
TEST(HealthTest, StartingIsHealthy) {
  broker::BrokerStats s = TwoShards();
  s.shards[0].heartbeat_ms = 0;
  s.shards[1].heartbeat_ms = 0;
  const Response r = Healthz(s, 10'250);
  EXPECT_EQ(r.code, 200) << r.body;
  EXPECT_NE(r.body.find("starting"), std::string::npos) << r.body;
}

TEST(HealthTest, ReadyOnceTold) {
  EXPECT_EQ(Readyz(false).code, 503);
  EXPECT_EQ(Readyz(true).code, 200);
}

}  // namespace
}  // namespace ringmq::server
