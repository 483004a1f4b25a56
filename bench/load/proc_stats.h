// Readers of /proc for the process under test (the broker) and for the load tool itself.
// Any thread; each call opens, reads and closes one small file (control path only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace ringmq::bench {

// utime + stime of every thread of `pid`, in seconds (/proc/PID/stat; 1/CLK_TCK resolution).
std::optional<double> ProcessCpuSeconds(pid_t pid);

struct ProcessMemory {
  uint64_t rss_kb = 0;  // VmRSS
  uint64_t hwm_kb = 0;  // VmHWM: the peak RSS
};
// From /proc/PID/status.
std::optional<ProcessMemory> ProcessMemoryKb(pid_t pid);

// User + system CPU time of this process (all threads), in seconds (getrusage).
double SelfCpuSeconds();

}  // namespace ringmq::bench
