#include "core/server/memory_release.h"

#include <cstddef>
#include <mutex>

#ifdef RINGMQ_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

namespace ringmq::server {

void ReleaseFreedMemory() {
#ifdef RINGMQ_HAVE_MIMALLOC
  // The options are process-wide: two shards switching them at once could leave the delays
  // at 0 for good, so the switch is serialised (an idle path, every few seconds at most).
  static std::mutex mu;
  static const long page_delay = mi_option_get(mi_option_decommit_delay);
  static const long segment_delay = mi_option_get(mi_option_segment_decommit_delay);
  std::lock_guard lock(mu);
  mi_option_set(mi_option_decommit_delay, 0);
  mi_option_set(mi_option_segment_decommit_delay, 0);
  mi_collect(/*force=*/true);
  // mimalloc 2.0 carries out the decommits it delayed only when it next takes a page from
  // that segment, which an idle thread never does: a few page-sized allocations make it do
  // so now (measured: 337 -> 233 bytes of RSS per subscribed filter, docs/benchmarks.md).
  for (size_t size : {size_t{64} << 10, size_t{256} << 10, size_t{1} << 20}) {
    mi_free(mi_malloc(size));
  }
  mi_option_set(mi_option_decommit_delay, page_delay);
  mi_option_set(mi_option_segment_decommit_delay, segment_delay);
#endif
}

}  // namespace ringmq::server
