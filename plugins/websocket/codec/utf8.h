// plugins/websocket/codec/utf8.h: UTF-8 checks for Close frame reasons (RFC 6455 5.5.1 and
// 8.1: the reason is UTF-8; invalid data fails the connection with 1007). The data frames of
// MQTT over WebSocket are binary and never checked.
//
// No state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_UTF8_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_UTF8_H

#include <string_view>

namespace ringmq::websocket {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool IsValidUtf8(std::string_view s);

// The longest prefix of `s` of at most `size_max` bytes that does not end inside a sequence.
// For valid UTF-8 the result is valid UTF-8.
std::string_view Utf8Prefix(std::string_view s, size_t size_max);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_UTF8_H
