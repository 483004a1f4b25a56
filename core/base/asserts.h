// Assertions for programmer bugs (see docs/style.md, "Error handling").
//
//   RINGMQ_ASSERT(cond)   always on: a broken invariant that makes continuing unsafe.
//   RINGMQ_DASSERT(cond)  debug builds only: checks too costly for the hot path in release.
//   RINGMQ_BUG(msg)       an impossible state that can be survived: aborts in debug builds,
//                         logs and counts in release builds.
//
// Untrusted input never reaches these: bad packets, configs and plugin answers are values
// (DecodeStatus, absl::Status), not assertions. Any thread may use them.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringmq::base {

[[noreturn]] void AssertFail(const char* expr, const char* file, int line);
void BugReport(const char* msg, const char* file, int line);

// Number of RINGMQ_BUG reports since start (exported in $SYS and checked by tests).
uint64_t BugCount();

}  // namespace ringmq::base

#define RINGMQ_ASSERT(cond)                                  \
  do {                                                       \
    if (__builtin_expect(!(cond), 0)) {                      \
      ::ringmq::base::AssertFail(#cond, __FILE__, __LINE__); \
    }                                                        \
  } while (0)

#ifdef NDEBUG
#define RINGMQ_DASSERT(cond) \
  do {                       \
    (void)sizeof(cond);      \
  } while (0)
#else
#define RINGMQ_DASSERT(cond) RINGMQ_ASSERT(cond)
#endif

#define RINGMQ_BUG(msg) ::ringmq::base::BugReport((msg), __FILE__, __LINE__)
