// WsClientTransport: the client side of MQTT over WebSocket (RFC 6455, MQTT 5.0 section 6) for
// ringmq-bench --transport websocket, as a net::Transport under each of the tool's
// connections, so the MQTT client code above it is the same for TCP and WebSocket.
// Shard-local: it lives in its connection and is called on that shard's thread.
//
// Data flow (framing and the Accept key come from plugins/websocket/codec, as in the broker):
//   1. the first flush after the TCP connect (the CONNECT written by the tool) sends the
//      opening handshake (4.1): GET ws_path with Upgrade, Sec-WebSocket-Key (16 random bytes,
//      base64), Sec-WebSocket-Version 13, Sec-WebSocket-Protocol mqtt. The MQTT bytes of that
//      flush, and of any flush until the answer, are framed but held back: the server may
//      send nothing but its answer before the upgrade, and reads nothing but HTTP;
//   2. OnInbound reads the answer: status 101, Upgrade websocket, Connection upgrade, the
//      Sec-WebSocket-Accept derived from our key, no subprotocol but "mqtt" and no extension
//      (4.1: the client fails the connection otherwise). Then the held frames go out, and
//      the bytes after the answer's head are frames already;
//   3. every later flush wraps all the MQTT bytes the tool wrote in that loop iteration in
//      ONE masked FIN Binary frame (5.2, 5.3), with a fresh masking key from the
//      connection's PRNG (splitmix64): the bytes are copied into the wire queue and masked
//      there (masking means one copy per byte sent);
//   4. server frames are decoded by websocket::FrameDecoder in client role (unmasked frames;
//      MQTT packets and frames are independent, so the MQTT reader reassembles). A Ping is
//      answered with a masked Pong; a Close with a masked Close echo, after which the server
//      closes the TCP connection (the tool sees "the broker closed the connection", with the
//      MQTT bytes that came before the Close delivered first).
//   5. the tool closing (OnStop, a parked subscriber) sends a masked Close 1000 after its last
//      MQTT bytes.
// Failures (a refused or malformed handshake, a bad Accept key, a framing error) close the
// connection; error() says why, and the tool reports it in place of the socket error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/net/output_queue.h"
#include "core/net/transport.h"
#include "plugins/websocket/codec/frame.h"
#include "plugins/websocket/codec/frame_decoder.h"

namespace ringmq::bench {

// splitmix64 (Steele, Lea, Flood 2014): a 64-bit state, one add and three mixes per number.
// Not cryptographic: RFC 6455 10.3 asks for unpredictable masking keys to defeat cache
// poisoning by a hostile page through a proxy, which is not the load tool's setting.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class WsClientTransport final : public net::Transport, private websocket::FrameEvents {
 public:
  struct Options {
    std::string host;            // the Host header: "127.0.0.1:1883"
    std::string path = "/mqtt";  // the request target
    uint64_t seed = 0;           // the PRNG: the handshake key and every masking key
  };

  explicit WsClientTransport(Options options);

  Status OnInbound(std::span<const uint8_t> in, std::string* app, net::OutputQueue* wire) override;
  Status OnOutbound(net::OutputQueue* app, net::OutputQueue* wire) override;
  void OnClosing(net::OutputQueue* wire) override;

  // The 101 came and was valid: MQTT bytes flow.
  bool open() const { return phase_ == Phase::kOpen; }
  // The request went out and no answer has come yet.
  bool awaiting_answer() const { return phase_ == Phase::kAwaitResponse; }
  // Why the transport failed the connection or the WebSocket ended; empty while all is well.
  const std::string& error() const { return error_; }
  // The request's Sec-WebSocket-Key (base64 of 16 random bytes).
  const std::string& key() const { return key_; }
  // The request head, as sent (tests).
  std::string RequestForTest() const { return Request(); }

 private:
  enum class Phase : uint8_t {
    kIdle,           // nothing sent yet
    kAwaitResponse,  // request sent; MQTT frames held in held_
    kOpen,
    kClosed,  // a Close was sent or received: no more data frames either way
    kFailed,
  };

  std::string Request() const;
  websocket::MaskKey NextMaskKey();
  // One masked FIN Binary frame holding all of *app (which is left empty), written to `out`:
  // FrameSize(app->bytes()) bytes.
  static size_t FrameSize(size_t payload_size);
  void WriteFrame(net::OutputQueue* app, uint8_t* out);
  // Reads the answer's head from *in (what follows it stays in *in).
  Status ReadResponse(std::span<const uint8_t>* in, net::OutputQueue* wire);
  bool CheckResponse(std::string_view head);
  Status Fail(std::string why);

  // websocket::FrameEvents: server control frames, during Feed.
  void OnPing(std::span<const uint8_t> payload) override;
  void OnClose(websocket::CloseCode code, std::string_view reason) override;

  const Options options_;
  uint64_t prng_;
  std::string key_;
  std::string accept_;  // the Sec-WebSocket-Accept the server must answer
  Phase phase_ = Phase::kIdle;
  std::string head_;  // the answer's head, until its empty line
  std::string held_;  // frames written before the 101
  websocket::FrameDecoder decoder_;
  std::string scratch_;                      // a control frame being written
  net::OutputQueue* events_wire_ = nullptr;  // during Feed
  std::string error_;
};

}  // namespace ringmq::bench
