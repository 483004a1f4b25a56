#include "core/base/proc_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "core/base/strings.h"

namespace ringmq::base {
namespace {

// Reads a small /proc file whole. NotFound if the process is gone (the open fails with
// ENOENT, or a read of a process that exited meanwhile with ESRCH).
absl::StatusOr<std::string> ReadProcFile(pid_t pid, const char* name) {
  const std::string path = absl::StrCat("/proc/", pid, "/", name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, path);
  }
  std::string out;
  char buf[4096];
  // /proc/PID/status is about 1.5 KiB: a handful of reads at most.
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return err == ESRCH ? absl::NotFoundError(absl::StrCat(path, ": the process ended"))
                          : absl::ErrnoToStatus(err, path);
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

absl::StatusOr<uint64_t> ParseProcStatCpuTicks(std::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) {
    return absl::DataLossError("no ')' after the command name in /proc/PID/stat");
  }
  // After ") ": state (field 3), ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt,
  // majflt, cmajflt, utime (field 14), stime (field 15) (proc(5)).
  std::vector<absl::string_view> fields =
      absl::StrSplit(ToAbsl(stat.substr(paren + 1)), ' ', absl::SkipWhitespace());
  constexpr size_t kUtime = 14 - 3;
  constexpr size_t kStime = 15 - 3;
  uint64_t utime = 0;
  uint64_t stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return absl::DataLossError("no utime and stime in /proc/PID/stat");
  }
  return utime + stime;
}

absl::StatusOr<ProcessMemory> ParseProcStatusMemory(std::string_view status) {
  ProcessMemory m;
  bool have_rss = false;
  bool have_hwm = false;
  // Lines read "VmRSS:\t    1234 kB".
  for (absl::string_view line : absl::StrSplit(ToAbsl(status), '\n')) {
    uint64_t* into = nullptr;
    if (absl::ConsumePrefix(&line, "VmRSS:")) {
      into = &m.rss_kb;
      have_rss = true;
    } else if (absl::ConsumePrefix(&line, "VmHWM:")) {
      into = &m.hwm_kb;
      have_hwm = true;
    } else {
      continue;
    }
    absl::ConsumeSuffix(&line, "kB");
    if (!absl::SimpleAtoi(line, into)) {
      return absl::DataLossError(absl::StrCat("not a number of kB in /proc/PID/status: ", line));
    }
  }
  if (!have_rss || !have_hwm) {
    return absl::DataLossError("no VmRSS and VmHWM in /proc/PID/status (a kernel thread?)");
  }
  return m;
}

absl::StatusOr<double> ProcessCpuSeconds(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadProcFile(pid, "stat");
  if (!stat.ok()) {
    return stat.status();
  }
  absl::StatusOr<uint64_t> ticks = ParseProcStatCpuTicks(*stat);
  if (!ticks.ok()) {
    return ticks.status();
  }
  return static_cast<double>(*ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

absl::StatusOr<ProcessMemory> ProcessMemoryKb(pid_t pid) {
  absl::StatusOr<std::string> status = ReadProcFile(pid, "status");
  if (!status.ok()) {
    return status.status();
  }
  return ParseProcStatusMemory(*status);
}

double SelfCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

}  // namespace ringmq::base
