#include "core/shard/stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include "gtest/gtest.h"

namespace ringmq::shard {
namespace {

bool Blocked(int sig) {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, sig) == 1;
}

void (*SigpipeHandler())(int) {
  struct sigaction now = {};
  sigaction(SIGPIPE, nullptr, &now);
  return now.sa_handler;
}

// A signal raised while StopSignals holds it is taken by WaitFor, not delivered; without
// one WaitFor returns 0 when the time is up.
TEST(StopSignalsTest, WaitForTakesAPendingSignalOrTimesOut) {
  StopSignals signals(StopSignals::OnExit::kRestore);
  EXPECT_EQ(signals.WaitFor(1'000'000), 0);
  ASSERT_EQ(raise(SIGTERM), 0);  // to this thread, which blocks it: pending
  EXPECT_EQ(signals.WaitFor(1'000'000'000), SIGTERM);
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_EQ(signals.Wait(), SIGINT);
  EXPECT_EQ(signals.WaitFor(0), 0);
}

// kRestore gives back the mask and SIGPIPE's action it found, so a library call that runs
// shards (RunBench) leaves its caller as it was.
TEST(StopSignalsTest, RestoreGivesBackTheMaskAndSigpipeAction) {
  const bool int_blocked = Blocked(SIGINT);
  const bool term_blocked = Blocked(SIGTERM);
  auto* const pipe_handler = SigpipeHandler();
  {
    StopSignals signals(StopSignals::OnExit::kRestore);
    EXPECT_TRUE(Blocked(SIGINT));
    EXPECT_TRUE(Blocked(SIGTERM));
    EXPECT_EQ(SigpipeHandler(), SIG_IGN);
  }
  EXPECT_EQ(Blocked(SIGINT), int_blocked);
  EXPECT_EQ(Blocked(SIGTERM), term_blocked);
  EXPECT_EQ(SigpipeHandler(), pipe_handler);
}

// The default is a program's: the signals stay blocked after the object is gone (the broker
// takes no signal during its shutdown).
TEST(StopSignalsTest, KeepBlockedLeavesTheSignalsBlocked) {
  sigset_t before;
  pthread_sigmask(SIG_BLOCK, nullptr, &before);
  struct sigaction pipe_before = {};
  sigaction(SIGPIPE, nullptr, &pipe_before);
  { StopSignals signals; }
  EXPECT_TRUE(Blocked(SIGTERM));
  EXPECT_EQ(SigpipeHandler(), SIG_IGN);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);  // as the other tests expect
  sigaction(SIGPIPE, &pipe_before, nullptr);
}

}  // namespace
}  // namespace ringmq::shard
