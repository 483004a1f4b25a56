// The cost of a hook call through the plugin ABI (core/plugin): a PUBLISH decision and a
// "published" event with 0, 1 and 3 plugins loaded (bench_plugin.so, which does almost
// nothing), next to the broker calling no hooks at all. Run:
//   build/bench/micro/plugin_hooks_bench build/bench/micro/bench_plugin.so
#include <cstdio>
#include <string>

#include <benchmark/benchmark.h>

#include "core/broker/message.h"
#include "core/plugin/plugin_host.h"

namespace {

std::string plugin_path;

// One shard for the plugins' core_init: timers only (the bench plugin has no tick).
class FakeShard final : public ringmq::broker::ShardServices {
 public:
  uint32_t shard_index() const override { return 0; }
  int64_t clock_ms() const override { return 0; }
  bool PublishFromBroker(std::string_view, std::string_view, ringmq::mqtt::Qos, bool) override {
    return true;
  }
  ringmq::net::TimerWheel& shard_timers() override { return timers_; }

 private:
  ringmq::net::TimerWheel timers_{0};
};

struct Loaded {
  explicit Loaded(int plugins) : host(1, nullptr) {
    for (int i = 0; i < plugins; ++i) {
      absl::Status s = host.Add("bench_plugin", plugin_path, {});
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
        std::abort();
      }
    }
    host.OnShardStart(shard);
  }
  ~Loaded() { host.OnShardStop(0); }
  FakeShard shard;
  ringmq::plugin::PluginHost host;
};

ringmq::broker::ClientInfo Client() {
  ringmq::broker::ClientInfo c;
  c.client_id = "sensor-000042";
  c.username = "fleet";
  c.has_username = true;
  return c;
}

void BM_PublishDecision(benchmark::State& state) {
  Loaded l(static_cast<int>(state.range(0)));
  const ringmq::broker::PublishRequest r{
      Client(), "fleet/sensor-000042/temperature", "21.5", ringmq::mqtt::Qos::k1, false, false};
  uint64_t ticket = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(l.host.OnPublish(r, ++ticket));
  }
}
BENCHMARK(BM_PublishDecision)->Arg(0)->Arg(1)->Arg(3);

void BM_PublishedEvent(benchmark::State& state) {
  Loaded l(static_cast<int>(state.range(0)));
  ringmq::broker::MessageInit init;
  init.topic = "fleet/sensor-000042/temperature";
  init.payload = "21.5";
  init.qos = ringmq::mqtt::Qos::k1;
  ringmq::broker::MessageRef m = ringmq::broker::Message::Create(init);
  const ringmq::broker::MessageEvent e{*m, Client(), ringmq::mqtt::Qos::k1};
  for (auto _ : state) {
    l.host.OnMessagePublished(e);
  }
}
BENCHMARK(BM_PublishedEvent)->Arg(0)->Arg(1)->Arg(3);

// What the broker pays without a host: a virtual call that allows.
void BM_NoHost(benchmark::State& state) {
  ringmq::broker::BrokerHooks none;
  ringmq::broker::BrokerHooks* hooks = &none;
  benchmark::DoNotOptimize(hooks);
  const ringmq::broker::PublishRequest r{
      Client(), "fleet/sensor-000042/temperature", "21.5", ringmq::mqtt::Qos::k1, false, false};
  for (auto _ : state) {
    benchmark::DoNotOptimize(hooks->OnPublish(r, 1));
  }
}
BENCHMARK(BM_NoHost);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: plugin_hooks_bench PATH/bench_plugin.so [benchmark flags]\n");
    return 2;
  }
  plugin_path = argv[1];
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
