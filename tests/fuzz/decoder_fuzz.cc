// libFuzzer target for the MQTT codec: framing, every packet decoder, and the encoder.
//
// Input: byte 0 picks the protocol version (3.1, 3.1.1, 5.0) and the chunking of the rest,
// which is fed to a PacketReader as a byte stream split at pseudo-random points. Every
// packet the reader delivers is decoded; every packet that decodes is re-encoded, and the
// encoding must (1) have exactly EncodedSize() bytes, (2) decode again, and (3) re-encode to
// the same bytes. Topic filters from SUBSCRIBE are matched against topics from PUBLISH and
// the result is compared with a naive reference matcher.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/mqtt/decoder.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/packet_reader.h"
#include "core/mqtt/topic.h"

namespace {

using namespace ringmq::mqtt;  // NOLINT(google-build-using-namespace): fuzz target

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

std::vector<std::string_view> Split(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      return out;
    }
    start = slash + 1;
  }
}

// Reference matcher: level lists, the obvious way.
bool NaiveMatch(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() &&
      (filter[0] == '+' || filter[0] == '#')) {
    return false;
  }
  std::vector<std::string_view> f = Split(filter);
  std::vector<std::string_view> t = Split(topic);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") {
      return true;
    }
    if (i >= t.size()) {
      return false;
    }
    if (f[i] != "+" && f[i] != t[i]) {
      return false;
    }
  }
  return f.size() == t.size();
}

void RoundTrip(ProtocolVersion v, const Packet& p) {
  size_t n = EncodedSize(p, v);
  std::string first(n, '\0');
  size_t written = Encode(p, v, reinterpret_cast<uint8_t*>(first.data()));
  Check(written == n, "Encode wrote a different size than EncodedSize");
  Packet again;
  ProtocolVersion v2 = v;
  DecodeStatus s =
      DecodeOne(v2, std::span(reinterpret_cast<const uint8_t*>(first.data()), n), &again);
  Check(s.ok(), "re-encoded packet does not decode");
  std::string second(EncodedSize(again, v), '\0');
  Encode(again, v, reinterpret_cast<uint8_t*>(second.data()));
  Check(first == second, "decode(encode(p)) encodes differently");
}

std::vector<std::string> g_topics;
std::vector<std::string> g_filters;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return 0;
  }
  static constexpr ProtocolVersion kVersions[] = {
      ProtocolVersion::kMqtt31, ProtocolVersion::kMqtt311, ProtocolVersion::kMqtt5};
  const uint8_t control = data[0];
  ProtocolVersion v = kVersions[control % 3];
  std::span<const uint8_t> stream(data + 1, size - 1);
  g_topics.clear();
  g_filters.clear();

  PacketReader reader(/*max_packet_size=*/4096);
  uint32_t rng = control * 2654435761u + 1;
  bool stop = false;
  auto sink = [&](const FixedHeader& h, std::span<const uint8_t> body) {
    Packet p;
    DecodeStatus s = DecodePacket(v, h, body, &p);
    if (!s.ok()) {
      Check(s.detail != nullptr && s.reason != ReasonCode::kSuccess, "error without reason");
      stop = true;
      return SinkAction::kStop;
    }
    if (auto* c = std::get_if<Connect>(&p)) {
      v = c->version;
    }
    if (auto* pub = std::get_if<Publish>(&p); pub != nullptr && !pub->topic.empty()) {
      g_topics.emplace_back(pub->topic);
    }
    if (auto* sub = std::get_if<Subscribe>(&p)) {
      for (const Subscription& e : sub->subscriptions) {
        if (!IsSharedFilter(e.filter)) {
          g_filters.emplace_back(e.filter);
        }
      }
    }
    RoundTrip(v, p);
    return SinkAction::kContinue;
  };
  size_t pos = 0;
  while (pos < stream.size() && !stop) {
    rng = rng * 1103515245u + 12345u;
    size_t chunk = 1 + (rng >> 16) % 64;
    chunk = chunk < stream.size() - pos ? chunk : stream.size() - pos;
    ReadResult r = reader.Read(stream.subspan(pos, chunk), sink);
    if (r.status != ReadStatus::kOk) {
      break;
    }
    pos += chunk;
  }
  for (const std::string& f : g_filters) {
    for (const std::string& t : g_topics) {
      Check(TopicMatches(f, t) == NaiveMatch(f, t), "TopicMatches disagrees with reference");
    }
  }
  return 0;
}
