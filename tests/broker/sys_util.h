// Reading $SYS values in broker tests (ringmq publishes them as retained messages every
// --sys-interval seconds).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"

#include "tests/testing/mqtt_client.h"

namespace ringmq::testing {

// The leading number of a $SYS value ("12" or "12 seconds"); -1 if there is none.
inline int64_t LeadingNumber(std::string_view v) {
  size_t n = 0;
  while (n < v.size() && v[n] >= '0' && v[n] <= '9') {
    ++n;
  }
  int64_t x = -1;
  if (n == 0 || !absl::SimpleAtoi(std::string(v.substr(0, n)), &x)) {
    return -1;
  }
  return x;
}

// Reads `c` (subscribed to $SYS topics) until `topic` arrives with a value for which `pred`
// holds; returns that value. Every value seen goes into *last when given.
inline absl::StatusOr<std::string> AwaitSys(MqttClient& c, std::string_view topic,
                                            const std::function<bool(std::string_view)>& pred,
                                            std::chrono::milliseconds timeout,
                                            std::map<std::string, std::string>* last = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string seen = "never";
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return absl::DeadlineExceededError(
          absl::StrFormat("%s: no satisfying value in %d ms; last value %s", topic,
                          static_cast<int>(timeout.count()), seen));
    }
    absl::StatusOr<ReceivedPacket> p = c.ExpectPublish(left);
    if (!p.ok()) {
      return absl::Status(p.status().code(), absl::StrFormat("%s: %s; last value %s", topic,
                                                             p.status().message(), seen));
    }
    const std::string t(p->publish().topic);
    const std::string v(p->publish().payload);
    if (last != nullptr) {
      (*last)[t] = v;
    }
    if (t == topic) {
      seen = "\"" + v + "\"";
      if (pred(v)) {
        return v;
      }
    }
  }
}

// Waits for the numeric $SYS value of `topic` to equal `want`.
inline absl::Status AwaitSysNumber(MqttClient& c, std::string_view topic, int64_t want,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(6)) {
  return AwaitSys(
             c, topic, [want](std::string_view v) { return LeadingNumber(v) == want; }, timeout)
      .status();
}

}  // namespace ringmq::testing
