// CPU time and memory of a process, read from /proc: for tests and benchmarks that measure a
// broker or server they started (and for the load tool measuring itself). Any thread; each
// call opens, reads and closes one small file, so it belongs on a control path, never on a
// shard's hot path.
//
// Errors: NotFound when the process does not exist (any more); DataLoss when the file does
// not have the expected shape.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringmq::base {

// utime + stime of every thread of `pid`, in seconds (/proc/PID/stat; 1/CLK_TCK resolution).
absl::StatusOr<double> ProcessCpuSeconds(pid_t pid);

struct ProcessMemory {
  uint64_t rss_kb = 0;  // VmRSS: resident now
  uint64_t hwm_kb = 0;  // VmHWM: the peak resident size
};
// From /proc/PID/status.
absl::StatusOr<ProcessMemory> ProcessMemoryKb(pid_t pid);

// User + system CPU time of the calling process (all threads), in seconds (getrusage).
double SelfCpuSeconds();

// The parsers behind the readers, on the text of the file.
// utime + stime in clock ticks from the text of /proc/PID/stat. The command name (field 2)
// may hold spaces and parentheses: the fields are counted after its last ')'.
absl::StatusOr<uint64_t> ParseProcStatCpuTicks(std::string_view stat);
// VmRSS and VmHWM from the text of /proc/PID/status (absent in a kernel thread: DataLoss).
absl::StatusOr<ProcessMemory> ParseProcStatusMemory(std::string_view status);

}  // namespace ringmq::base
