#include "bench/load/proc_stats.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ringmq::bench {
namespace {

// Reads a small /proc file whole; nullopt if the process is gone.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

std::optional<double> ProcessCpuSeconds(pid_t pid) {
  auto stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    return std::nullopt;
  }
  // The command name may hold spaces and parentheses: fields are counted after the last ')'.
  size_t pos = stat->rfind(')');
  if (pos == std::string::npos) {
    return std::nullopt;
  }
  // After ") ": state (field 3) ... utime and stime are fields 14 and 15 (proc(5)).
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (std::sscanf(stat->c_str() + pos + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                  &utime, &stime) != 2) {
    return std::nullopt;
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / ticks;
}

std::optional<ProcessMemory> ProcessMemoryKb(pid_t pid) {
  auto status = ReadSmallFile("/proc/" + std::to_string(pid) + "/status");
  if (!status) {
    return std::nullopt;
  }
  ProcessMemory m;
  auto field = [&](const char* name) -> uint64_t {
    size_t at = status->find(name);
    if (at == std::string::npos) {
      return 0;
    }
    return std::strtoull(status->c_str() + at + std::strlen(name), nullptr, 10);
  };
  m.rss_kb = field("VmRSS:");
  m.hwm_kb = field("VmHWM:");
  return m;
}

double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace ringmq::bench
