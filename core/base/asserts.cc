#include "core/base/asserts.h"

#include <cstdio>
#include <cstdlib>

namespace ringmq::base {
namespace {
std::atomic<uint64_t> bug_count{0};
}  // namespace

void AssertFail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "ringmq: assertion failed: %s at %s:%d\n", expr, file, line);
  std::fflush(stderr);
  std::abort();
}

void BugReport(const char* msg, const char* file, int line) {
  bug_count.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "ringmq: BUG: %s at %s:%d\n", msg, file, line);
#ifndef NDEBUG
  std::fflush(stderr);
  std::abort();
#endif
}

uint64_t BugCount() {
  return bug_count.load(std::memory_order_relaxed);
}

}  // namespace ringmq::base
