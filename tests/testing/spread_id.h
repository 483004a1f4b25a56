// Client ids whose sessions live on a chosen shard (core/broker/shard_hash.h), so tests put
// clients on the same shard or on different ones by construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"

#include "core/broker/shard_hash.h"

namespace ringmq::testing {

// Client id "<prefix>-<i>[-<k>]" on shard i mod `shards` (k is the first suffix that puts it
// there; none when "<prefix>-<i>" already does), and the first n of them.
inline std::string SpreadId(std::string_view prefix, int i, uint32_t shards = 2) {
  const uint32_t want = static_cast<uint32_t>(i) % shards;
  std::string id = absl::StrFormat("%s-%d", prefix, i);
  for (int k = 1; broker::HomeShard(id, shards) != want; ++k) {
    id = absl::StrFormat("%s-%d-%d", prefix, i, k);
  }
  return id;
}
inline std::vector<std::string> SpreadIds(std::string_view prefix, int n, uint32_t shards = 2) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(SpreadId(prefix, i, shards));
  }
  return ids;
}

}  // namespace ringmq::testing
