// plugins/websocket/codec/mask.h: client-to-server masking (RFC 6455 5.3): each payload byte i
// is XORed with key[i % 4]. Masking and unmasking are the same operation. Eight bytes at a
// time; the decoder unmasks payload as it arrives, so a frame may be unmasked in pieces: the
// offset says where in the key the piece starts.
//
// No state: any thread.
#ifndef RINGMQ_PLUGINS_WEBSOCKET_CODEC_MASK_H
#define RINGMQ_PLUGINS_WEBSOCKET_CODEC_MASK_H

#include <cstddef>
#include <cstdint>

#include "plugins/websocket/codec/frame.h"

namespace ringmq::websocket {

// XORs data[0, size) in place with the key, starting at key byte `key_offset % 4`. Returns the
// key offset for the next piece of the same payload: (key_offset + size) % 4.
size_t ApplyMask(uint8_t* data, size_t size, const MaskKey& key, size_t key_offset);

}  // namespace ringmq::websocket

#endif  // RINGMQ_PLUGINS_WEBSOCKET_CODEC_MASK_H
