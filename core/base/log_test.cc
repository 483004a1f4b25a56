#include "core/base/log.h"

#include "gtest/gtest.h"

namespace ringmq::base {
namespace {

TEST(LogBurstLimitTest, AllowsABurstThenCountsWhatItSuppresses) {
  LogBurstLimit limit(3);
  uint64_t suppressed = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limit.Allow(&suppressed)) << i;
    EXPECT_EQ(suppressed, 0u);
  }
  EXPECT_FALSE(limit.Allow(&suppressed));
  EXPECT_FALSE(limit.Allow(&suppressed));
}

TEST(LogTest, ParsesLevelsAndFormats) {
  LogLevel level;
  ASSERT_TRUE(ParseLogLevel("warn", &level));
  EXPECT_EQ(level, LogLevel::kWarning);
  LogFormat format;
  ASSERT_TRUE(ParseLogFormat("logfmt", &format));
  EXPECT_EQ(format, LogFormat::kLogfmt);
}

}  // namespace
}  // namespace ringmq::base
