// libFuzzer target for the WebSocket frame decoder (plugins/websocket/codec/frame_decoder.h).
// Input: one byte of settings (bit 0: client role, else server; bit 1: small limits so that
// 1009 is reached), eight bytes seeding how the rest is cut, then the bytes of the connection.
// The rest is decoded twice: at once, and in pieces of random sizes. It must never crash, and
//   (1) both ways give the same result, the same MQTT bytes and the same events;
//   (2) the MQTT bytes are never more than the input;
//   (3) after an error, later feeds return the same error and add no MQTT bytes;
//   (4) after a Close, nothing more is reported;
//   (5) the MQTT bytes, framed again by the encoder (masked for the server role, unmasked for
//       the client role), decode to themselves.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "plugins/websocket/codec/frame_decoder.h"
#include "plugins/websocket/codec/frame_encoder.h"

namespace {

using ringmq::websocket::CloseCode;
using ringmq::websocket::DecodeResult;
using ringmq::websocket::DecoderLimits;
using ringmq::websocket::FrameDecoder;
using ringmq::websocket::Role;

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

// Every event as text, in order.
class Transcript : public ringmq::websocket::FrameEvents {
 public:
  void OnPing(std::span<const uint8_t> payload) override { Add('i', payload); }
  void OnPong(std::span<const uint8_t> payload) override { Add('o', payload); }
  void OnClose(CloseCode code, std::string_view reason) override {
    Check(!closed, "one Close at most");
    closed = true;
    text += 'c';
    text += std::to_string(static_cast<int>(code));
    text.append(reason);
    text += '\n';
  }

  std::string text;
  bool closed = false;

 private:
  void Add(char kind, std::span<const uint8_t> payload) {
    Check(!closed, "no event after a Close");
    Check(payload.size() <= 125, "control payload <= 125 bytes");
    text += kind;
    text.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    text += '\n';
  }
};

struct Run {
  DecodeResult result;
  std::string app;
  std::string events;
};

uint64_t NextRandom(uint64_t* state) {  // splitmix64
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Decodes `wire` in pieces (sizes from `seed`, or all at once when seed is 0), feeding on
// after an error to check that it stays.
Run Decode(std::span<const uint8_t> wire, Role role, const DecoderLimits& limits, uint64_t seed) {
  FrameDecoder decoder(role, limits);
  Transcript events;
  Run run;
  bool failed = false;
  size_t at = 0;
  while (at < wire.size()) {
    size_t piece = wire.size() - at;
    if (seed != 0) {
      const uint64_t r = NextRandom(&seed);
      piece = std::min<size_t>(piece, (r & 3) == 0 ? r % 97 : r % 7 + 1);
    }
    const size_t app_before = run.app.size();
    const DecodeResult r = decoder.Feed(wire.subspan(at, piece), &run.app, &events);
    if (failed) {
      Check(r.close_code == run.result.close_code && r.detail == run.result.detail,
            "an error is final");
      Check(run.app.size() == app_before, "no MQTT bytes after an error");
    } else if (!r.ok()) {
      failed = true;
      Check(r.close_code != CloseCode::kNone && !r.detail.empty(), "an error has a code");
    }
    run.result = r;
    at += piece;
  }
  Check(run.app.size() <= wire.size(), "no more MQTT bytes than input");
  Check(events.closed == decoder.close_received(), "close_received() follows OnClose");
  run.events = std::move(events.text);
  return run;
}

// (5): the MQTT bytes framed again decode to themselves.
void CheckReframed(const std::string& app, Role role) {
  std::string wire;
  const std::span<const uint8_t> payload(reinterpret_cast<const uint8_t*>(app.data()), app.size());
  if (role == Role::kServer) {
    ringmq::websocket::AppendMaskedFrame(ringmq::websocket::Opcode::kBinary,
                                         ringmq::websocket::Fin::kFinal, payload,
                                         {0x12, 0x34, 0x56, 0x78}, &wire);
  } else {
    ringmq::websocket::AppendBinaryHeader(app.size(), &wire);
    wire += app;
  }
  FrameDecoder decoder(role);
  std::string again;
  const DecodeResult r =
      decoder.Feed({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, &again, nullptr);
  Check(r.ok() && again == app && !decoder.in_message(), "re-encoded bytes decode to themselves");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) {
    return 0;
  }
  const Role role = (data[0] & 1) != 0 ? Role::kClient : Role::kServer;
  DecoderLimits limits;
  if ((data[0] & 2) != 0) {
    limits.frame_payload_bytes_max = 64;
    limits.message_bytes_max = 200;
  }
  uint64_t seed = 0;
  std::memcpy(&seed, data + 1, sizeof(seed));
  seed |= 1;  // never 0, which means "at once"
  const std::span<const uint8_t> wire(data + 9, size - 9);

  const Run whole = Decode(wire, role, limits, 0);
  const Run pieces = Decode(wire, role, limits, seed);
  Check(whole.result.close_code == pieces.result.close_code, "same result in pieces");
  Check(whole.app == pieces.app, "same MQTT bytes in pieces");
  Check(whole.events == pieces.events, "same events in pieces");
  CheckReframed(whole.app, role);
  return 0;
}
