#include "core/base/proc_stats.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ringmq::base {
namespace {

// proc(5)'s fields 1-15 and more; the command name holds spaces and a ')'.
constexpr char kStat[] =
    "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1200 0 3 0 125 37 0 0 20 0 3 0 9915 "
    "23650304 1408 18446744073709551615\n";

TEST(ProcStatsTest, CpuTicksCountedAfterTheLastParenthesis) {
  absl::StatusOr<uint64_t> ticks = ParseProcStatCpuTicks(kStat);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 125u + 37u);
}

TEST(ProcStatsTest, CpuTicksOfATruncatedOrForeignLineAreAnError) {
  EXPECT_TRUE(absl::IsDataLoss(ParseProcStatCpuTicks("").status()));
  EXPECT_TRUE(absl::IsDataLoss(ParseProcStatCpuTicks("4242 (a) S 1 2 3").status()));
  EXPECT_TRUE(absl::IsDataLoss(
      ParseProcStatCpuTicks("4242 (a) S 1 4242 4242 0 -1 4194560 1200 0 3 0 x 37").status()));
}

TEST(ProcStatsTest, MemoryFromStatus) {
  absl::StatusOr<ProcessMemory> m = ParseProcStatusMemory(
      "Name:\tringmq\nVmPeak:\t  300000 kB\nVmHWM:\t    9000 kB\nVmRSS:\t    8192 kB\n"
      "Threads:\t3\n");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rss_kb, 8192u);
  EXPECT_EQ(m->hwm_kb, 9000u);
}

TEST(ProcStatsTest, MemoryOfAKernelThreadOrAGarbledLineIsAnError) {
  // A kernel thread's status has no Vm* lines.
  EXPECT_TRUE(
      absl::IsDataLoss(ParseProcStatusMemory("Name:\tkworker/0:1\nThreads:\t1\n").status()));
  EXPECT_TRUE(absl::IsDataLoss(
      ParseProcStatusMemory("VmHWM:\t    9000 kB\nVmRSS:\t    lots kB\n").status()));
}

TEST(ProcStatsTest, ThisProcess) {
  // Burn a little CPU, so that at least one tick is counted.
  const double start_s = SelfCpuSeconds();
  volatile uint64_t x = 0;
  while (SelfCpuSeconds() - start_s < 0.05) {
    for (int i = 0; i < 100000; ++i) {
      x = x + static_cast<uint64_t>(i);
    }
  }
  absl::StatusOr<double> cpu = ProcessCpuSeconds(::getpid());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_GT(*cpu, 0);
  absl::StatusOr<ProcessMemory> m = ProcessMemoryKb(::getpid());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->rss_kb, 0u);
  EXPECT_GE(m->hwm_kb, m->rss_kb);
}

TEST(ProcStatsTest, AProcessThatEndedIsNotFound) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // reaped: its /proc entry is gone
  EXPECT_TRUE(absl::IsNotFound(ProcessCpuSeconds(child).status()));
  EXPECT_TRUE(absl::IsNotFound(ProcessMemoryKb(child).status()));
}

}  // namespace
}  // namespace ringmq::base
