// Codec micro-benchmarks: PUBLISH decode/encode (QoS 0 and 1, 3-level topic, 64-byte payload,
// MQTT 3.1.1 and 5.0), CONNECT decode, stream framing, topic-filter matching.
// Every benchmark reports "allocs" = heap allocations per iteration.
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

#include "bench/micro/alloc_counter.h"
#include "core/mqtt/decoder.h"
#include "core/mqtt/encoder.h"
#include "core/mqtt/packet_reader.h"
#include "core/mqtt/topic.h"

namespace ringmq::mqtt {
namespace {

const std::string kPayload(64, 'x');
constexpr std::string_view kTopic = "sensors/room42/temperature";

Publish MakePublish(Qos qos) {
  Publish p;
  p.topic = kTopic;
  p.payload = kPayload;
  p.qos = qos;
  p.packet_id = qos == Qos::k0 ? 0 : 4242;
  return p;
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void ReportAllocs(benchmark::State& state, uint64_t before) {
  state.counters["allocs"] = benchmark::Counter(
      static_cast<double>(bench::AllocationCount() - before), benchmark::Counter::kAvgIterations);
}

void BM_DecodePublish(benchmark::State& state) {
  auto v = static_cast<ProtocolVersion>(state.range(0));
  auto qos = static_cast<Qos>(state.range(1));
  const std::string wire = EncodeToString(MakePublish(qos), v);
  auto bytes = Bytes(wire);
  uint64_t before = bench::AllocationCount();
  for (auto _ : state) {
    FixedHeader h;
    (void)ParseFixedHeader(bytes, kMaxPacketSize, &h);
    Publish p;
    DecodeStatus s = DecodePublish(v, h, bytes.subspan(h.header_size), &p);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(p);
  }
  ReportAllocs(state, before);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_DecodePublish)
    ->ArgNames({"ver", "qos"})
    ->Args({4, 0})
    ->Args({4, 1})
    ->Args({5, 0})
    ->Args({5, 1});

void BM_EncodePublish(benchmark::State& state) {
  auto v = static_cast<ProtocolVersion>(state.range(0));
  Publish p = MakePublish(static_cast<Qos>(state.range(1)));
  uint8_t buf[256];
  uint64_t before = bench::AllocationCount();
  for (auto _ : state) {
    size_t n = EncodedSize(p, v);
    benchmark::DoNotOptimize(Encode(p, v, buf));
    benchmark::DoNotOptimize(n);
    benchmark::ClobberMemory();
  }
  ReportAllocs(state, before);
}
BENCHMARK(BM_EncodePublish)
    ->ArgNames({"ver", "qos"})
    ->Args({4, 0})
    ->Args({4, 1})
    ->Args({5, 0})
    ->Args({5, 1});

void BM_DecodeConnect(benchmark::State& state) {
  auto v = static_cast<ProtocolVersion>(state.range(0));
  Connect c;
  c.version = v;
  c.client_id = "device-0123456789";
  c.keep_alive_s = 60;
  c.username = "user";
  c.password = "secret-password";
  Will& w = c.will.emplace();
  w.topic = "devices/0123456789/status";
  w.payload = "offline";
  w.qos = Qos::k1;
  if (IsV5(v)) {
    c.properties.SetSessionExpiryInterval(3600);
    c.properties.SetReceiveMaximum(100);
    c.properties.SetTopicAliasMaximum(10);
  }
  const std::string wire = EncodeToString(c, v);
  auto bytes = Bytes(wire);
  uint64_t before = bench::AllocationCount();
  for (auto _ : state) {
    Packet p;
    DecodeStatus s = DecodeOne(v, bytes, &p);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(p);
  }
  ReportAllocs(state, before);
}
BENCHMARK(BM_DecodeConnect)->ArgName("ver")->Arg(4)->Arg(5);

// Framing + decoding a stream of 64-byte QoS 0 PUBLISHes as one 16 KiB read delivers them.
void BM_ReadPublishStream(benchmark::State& state) {
  auto v = static_cast<ProtocolVersion>(state.range(0));
  const std::string one = EncodeToString(MakePublish(Qos::k0), v);
  std::string stream;
  while (stream.size() + one.size() <= 16384) {
    stream += one;
  }
  const size_t packets = stream.size() / one.size();
  PacketReader reader(1 << 20);
  uint64_t before = bench::AllocationCount();
  for (auto _ : state) {
    size_t n = 0;
    ReadResult r = reader.Read(Bytes(stream), [&](const FixedHeader& h, auto body) {
      Publish p;
      DecodeStatus s = DecodePublish(v, h, body, &p);
      benchmark::DoNotOptimize(s);
      ++n;
      return SinkAction::kContinue;
    });
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(n);
  }
  ReportAllocs(state, before);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * packets));
}
BENCHMARK(BM_ReadPublishStream)->ArgName("ver")->Arg(4)->Arg(5);

void BM_TopicMatch(benchmark::State& state) {
  static const std::vector<std::string> kFilters = {"sensors/room42/temperature",
                                                    "sensors/+/temperature",
                                                    "sensors/#",
                                                    "+/+/+",
                                                    "sensors/room43/#",
                                                    "#"};
  const std::string& filter = kFilters[static_cast<size_t>(state.range(0))];
  uint64_t before = bench::AllocationCount();
  for (auto _ : state) {
    benchmark::DoNotOptimize(TopicMatches(filter, kTopic));
  }
  ReportAllocs(state, before);
  state.SetLabel(filter);
}
BENCHMARK(BM_TopicMatch)->DenseRange(0, 5);

}  // namespace
}  // namespace ringmq::mqtt

BENCHMARK_MAIN();
