// Counts heap allocations made through operator new in a benchmark process, so benchmarks can
// report allocations per operation ("allocs" counter) and prove a path allocates nothing.
// Linked only into benchmark programs (it replaces the global operator new/delete).
#pragma once

#include <cstdint>

namespace ringmq::bench {

// Allocations made by operator new since the process started (all threads).
uint64_t AllocationCount();

}  // namespace ringmq::bench
