// Giving freed memory back to the operating system, from a shard that has gone idle.
#pragma once

namespace ringmq::server {

// Returns what the calling thread's allocator holds free (mimalloc: collect, and decommit at
// once what is collected). Busy shards keep mimalloc's decommit delays, since decommitting
// each page the moment it empties costs most of the throughput (docs/benchmarks.md); an idle
// shard calls this (ShardOptions::release_memory, at most every release interval). Any
// thread; the delays are switched off for the call only, one caller at a time.
void ReleaseFreedMemory();

}  // namespace ringmq::server
