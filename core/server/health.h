// /healthz and /readyz: what the admin listener answers about the broker's health. Pure:
// any thread.
//   healthz  200 while every shard's heartbeat timer (core/broker/heartbeat.cc, about once a
//            second) ran within kStuckAfterMs: its event loop turns, so it accepts and
//            routes; 503 naming each stuck (or not yet started) shard otherwise.
//   readyz   200 once the store's recovery finished and the listeners are open (main.cc
//            says so), 503 before.
#pragma once

#include <cstdint>

#include "core/broker/stats.h"
#include "core/server/admin_http.h"

namespace ringmq::server {

inline constexpr int64_t kStuckAfterMs = 10'000;

// `now_ms`: base::MonotonicMs.
Response Healthz(const broker::BrokerStats& stats, int64_t now_ms);
Response Readyz(bool ready);

}  // namespace ringmq::server
