// message_log's line format: one JSON object per line, written by the writer thread (a
// LineFormatter belongs to one thread). Fields, in this order:
//   time      RFC 3339 UTC with milliseconds ("2024-05-01T12:34:56.789Z")
//   event     "published", "delivered" or "dropped"
//   reason    dropped only: "offline", "slow_consumer", "queue_full", "expired",
//             "too_large", "not_stored" or "other"
//   client_id the publisher (published) or the receiver; null for a message without one
//   username  null when the CONNECT had none
//   topic, qos, retain
//   size      the payload's size in bytes (all of it, also when truncated)
//   payload, encoding ("utf8" or "base64"), truncated   unless payload = "none"
// Strings that are not valid UTF-8 are written with U+FFFD for the invalid bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "record_ring.h"

namespace ringmq::message_log {

class LineFormatter {
 public:
  // Appends `r` as one JSON line, '\n' included.
  void Append(const Record& r, std::string* out);

 private:
  std::string_view Time(int64_t unix_ms);

  int64_t cached_s_ = INT64_MIN;  // the second time_ holds
  char time_[32] = {};            // "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string base64_;
};

// True when `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// `s` without a multi-byte sequence cut short at its end (after truncation).
std::string_view WithoutCutSequence(std::string_view s);
// "published", "delivered", "dropped"; RINGMQ_DROP_* as a word.
std::string_view EventName(Event e);
std::string_view DropReasonName(uint32_t reason);

}  // namespace ringmq::message_log
