// message_log's options, parsed on the main thread (global_init and reload) from the plugin's
// [plugin.options] table into an immutable Settings. The shards share one Settings through a
// std::shared_ptr<const Settings>; each core takes a new one in core_reload.
#pragma once

#include <ringmq/plugin.h>

#include <cstdint>
#include <string>

#include "topic_filter.h"

namespace ringmq::message_log {

// Which events are logged (option `events`).
enum EventBits : uint32_t {
  kEventPublished = 1u << 0,
  kEventDelivered = 1u << 1,
  kEventDropped = 1u << 2,
};

// How the payload is written (option `payload`).
enum class PayloadMode : uint8_t {
  kNone,    // no payload field
  kUtf8,    // a JSON string; invalid bytes become U+FFFD
  kBase64,  // standard base64 with padding
  kAuto,    // utf8 when the (kept part of the) payload is valid UTF-8, else base64
};

struct Settings {
  std::string file;                          // required
  uint32_t events = kEventPublished;         // EventBits
  PayloadMode payload = PayloadMode::kNone;  //
  uint32_t payload_max_bytes = 1024;         // `payload_max`: bytes of payload kept per line
  uint32_t max_queue = 8192;                 // lines queued per core before lines are dropped
  uint64_t max_queue_bytes = 8ull << 20;     // bytes queued per core before lines are dropped
  uint64_t rotate_bytes = 0;                 // file size that starts a rotation; 0: never
  uint32_t rotate_keep = 5;                  // rotated files kept: file.1 .. file.N
  uint32_t flush_ms = 100;                   // a line reaches the file within about this
  TopicFilterSet topics;                     // `topics`; "#" when the option is absent
};

// The options' names, for messages.
inline constexpr const char* kOptionNames =
    "file, events, payload, payload_max, max_queue, max_queue_bytes, rotate_bytes, "
    "rotate_keep, topics, flush_ms";

// Parses `config`'s options into *settings. False with a message naming the option (an
// unknown one, a bad value, a missing `file`) in *error.
[[nodiscard]] bool ParseSettings(const ringmq_plugin_config& config, Settings* settings,
                                 std::string* error);

}  // namespace ringmq::message_log
