// The Prometheus text exposition format (0.0.4) of a BrokerStats snapshot and the plugins'
// call counts: what GET /metrics answers. Pure: any thread (the admin thread; unit tests).
// docs/operations.md ("Metrics and health") lists every metric with its $SYS topic.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/broker/stats.h"
#include "core/plugin/call_counts.h"

namespace ringmq::server {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// `now_ms`: base::MonotonicMs, for the age of each shard's heartbeat.
std::string RenderMetrics(const broker::BrokerStats& stats,
                          std::span<const plugin::PluginCallTotal> plugin_calls, int64_t now_ms);

// A label value escaped as the format wants (\\, \", \n).
std::string EscapeLabelValue(std::string_view v);

}  // namespace ringmq::server
