// What a client makes the broker hold is given back when its session ends: trie nodes on
// every shard (its own and the replicated interest, in the trie and the exact table), shared
// groups, pending responses.
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/sim/sim_test_util.h"
#include "tests/testing/status_macros.h"

namespace ringmq::testing {
namespace {

using mqtt::PacketType;

TEST(FootprintTest, EndedSessionLeavesNothingOnAnyShard) {
  SteppedBrokerOptions o;
  o.config.max_subscriptions_per_session = 5000;
  ASSERT_OK_AND_ASSIGN(auto b, SteppedBroker::Start(o));
  auto c = ConnectClient(*b, 1, SpreadId("many", 1));
  for (int batch = 0; batch < 5; ++batch) {
    mqtt::Subscribe s;
    s.packet_id = static_cast<uint16_t>(batch + 1);
    std::vector<std::string> filters;
    for (int i = 0; i < 999; ++i) {  // and one shared: the most one SUBSCRIBE takes
      const int k = batch * 1000 + i;
      filters.push_back(k % 10 == 0
                            ? "wild/" + std::to_string(k) + "/+/#"
                            : "sensor/b" + std::to_string(k % 100) + "/" + std::to_string(k));
    }
    filters.push_back("$share/g" + std::to_string(batch) + "/shared/" + std::to_string(batch));
    for (const std::string& f : filters) {
      s.subscriptions.push_back({f, {}});
    }
    c->Send(s);
    ASSERT_TRUE(StepUntil(*b, *c, PacketType::kSuback).has_value());
  }
  // The home shard holds every filter in its trie; the other one the filters with wildcards
  // in its trie and the 4,495 exact ones in its exact table.
  const uint32_t home = b->broker(0).FootprintForTest().sessions == 1 ? 0 : 1;
  EXPECT_GT(b->broker(home).FootprintForTest().trie_nodes, 4995u);
  EXPECT_EQ(b->broker(home).FootprintForTest().exact_filters, 0u);
  EXPECT_EQ(b->broker(1 - home).FootprintForTest().exact_filters, 4495u);
  EXPECT_GT(b->broker(1 - home).FootprintForTest().trie_nodes, 500u);
  for (uint32_t shard = 0; shard < 2; ++shard) {
    EXPECT_EQ(b->broker(shard).FootprintForTest().shared_groups, 5u) << "shard " << shard;
  }
  c->Send(mqtt::Disconnect{});
  b->StepAll(10);
  for (uint32_t shard = 0; shard < 2; ++shard) {
    const auto f = b->broker(shard).FootprintForTest();
    EXPECT_EQ(f.sessions, 0u) << "shard " << shard;
    EXPECT_EQ(f.trie_nodes, 0u) << "shard " << shard;
    EXPECT_EQ(f.exact_filters, 0u) << "shard " << shard;
    EXPECT_EQ(f.shared_groups, 0u) << "shard " << shard;
    EXPECT_EQ(f.tokens, 0u) << "shard " << shard;
    EXPECT_EQ(f.retained_requests, 0u) << "shard " << shard;
  }
}

}  // namespace
}  // namespace ringmq::testing
