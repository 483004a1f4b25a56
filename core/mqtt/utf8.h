// UTF-8 checks for MQTT strings (MQTT 5 §1.5.4). Pure functions; any thread.
//
// An MQTT UTF-8 string is well-formed UTF-8 (RFC 3629: shortest form, no surrogates
// U+D800..U+DFFF, nothing above U+10FFFF) [MQTT-1.5.4-1] and contains no U+0000
// [MQTT-1.5.4-2]. U+FEFF is an ordinary character and is kept [MQTT-1.5.4-3]. Control
// characters and non-characters are allowed (the spec says SHOULD NOT, not MUST NOT).
#pragma once

#include <string_view>

namespace ringmq::mqtt {

// True if `s` satisfies the rules above.
bool IsValidMqttUtf8(std::string_view s);

// The same check, also rejecting the topic-name wildcards '+' and '#'. One pass over the
// bytes, since a PUBLISH topic needs both checks on every message.
enum class TopicNameCheck : uint8_t { kOk, kBadUtf8, kWildcard };
TopicNameCheck CheckTopicNameChars(std::string_view s);

}  // namespace ringmq::mqtt
