// Wall-clock time for what the store keeps across restarts (the monotonic clock starts
// again with the machine), and the conversion of the broker's monotonic deadlines.
#pragma once

#include <time.h>

#include <cstdint>

#include "core/base/clock.h"

namespace ringmq::persistence::sqlite {

inline int64_t WallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// A monotonic deadline (0: never) as wall time (0: never).
inline int64_t DeadlineToWall(int64_t deadline_ms) {
  if (deadline_ms == 0) {
    return 0;
  }
  const int64_t wall = deadline_ms - base::MonotonicMs() + WallMs();
  return wall == 0 ? 1 : wall;
}

// ... and back, against `mono_now`/`wall_now` (at least 1: 0 means never).
inline int64_t WallToDeadline(int64_t wall_ms, int64_t mono_now, int64_t wall_now) {
  if (wall_ms == 0) {
    return 0;
  }
  const int64_t mono = wall_ms - wall_now + mono_now;
  return mono < 1 ? 1 : mono;
}

}  // namespace ringmq::persistence::sqlite
