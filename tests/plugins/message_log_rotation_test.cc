// message_log's size-based rotation: file -> file.1 -> ... -> file.<rotate_keep>, no file
// over rotate_bytes (unless one line is longer), no line split or lost among the kept files.
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/plugins/message_log_harness.h"

namespace ringmq::message_log {
namespace {

using testing::FakeClient;
using testing::OptionList;
using testing::OwnedMessage;

std::string Seq(int i) {
  char buf[16];
  snprintf(buf, sizeof(buf), "t/%04d", i);  // fixed width: every line has the same length
  return buf;
}

uint64_t SizeOf(const std::string& path) {
  return std::filesystem::file_size(path);
}

TEST(MessageLogRotation, RotatesBySizeAndKeepsN) {
  constexpr int kLines = 40;
  constexpr uint64_t kRotateBytes = 1000;
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log")).Add("rotate_bytes", "1000").Add("rotate_keep", "2");
  h.InitOrFail(o);
  const FakeClient c{"client"};
  for (int i = 0; i < kLines; ++i) {
    h.Publish(0, &c, OwnedMessage{Seq(i), "", 0, false});
  }
  h.Fini();

  std::ifstream first(h.Path("log.2"));
  std::string line;
  ASSERT_TRUE(std::getline(first, line)) << "log.2 exists";
  const uint64_t line_bytes = line.size() + 1;
  const uint64_t per_file = kRotateBytes / line_bytes;
  ASSERT_GE(per_file, 2u);
  ASSERT_LT(per_file * 3, static_cast<uint64_t>(kLines)) << "the test needs 3+ rotations";
  const int rotations = static_cast<int>((kLines + per_file - 1) / per_file) - 1;
  const int in_current = kLines - rotations * static_cast<int>(per_file);

  // Full files hold as many whole lines as fit; the current one the rest.
  EXPECT_EQ(SizeOf(h.Path("log.2")), per_file * line_bytes);
  EXPECT_EQ(SizeOf(h.Path("log.1")), per_file * line_bytes);
  EXPECT_EQ(SizeOf(h.Path("log")), in_current * line_bytes);
  EXPECT_FALSE(std::filesystem::exists(h.Path("log.3"))) << "rotate_keep = 2";

  // Oldest to newest: log.2, log.1, log: consecutive, ending with the last line.
  int expect = kLines - in_current - 2 * static_cast<int>(per_file);
  for (const char* name : {"log.2", "log.1", "log"}) {
    for (const auto& j : MessageLogHarness::ReadLines(h.Path(name))) {
      EXPECT_EQ(j["topic"], Seq(expect)) << name;
      ++expect;
    }
  }
  EXPECT_EQ(expect, kLines);
}

TEST(MessageLogRotation, ALineLongerThanRotateBytesGetsItsOwnFile) {
  MessageLogHarness h;
  OptionList o;
  o.Add("file", h.Path("log"))
      .Add("rotate_bytes", "100")
      .Add("rotate_keep", "5")
      .Add("payload", "utf8")
      .Add("payload_max", "500");
  h.InitOrFail(o);
  const FakeClient c{"client"};
  for (int i = 0; i < 3; ++i) {
    h.Publish(0, &c, OwnedMessage{Seq(i), std::string(200, 'x'), 0, false});
  }
  h.Fini();
  int i = 0;
  for (const char* name : {"log.2", "log.1", "log"}) {
    const auto lines = MessageLogHarness::ReadLines(h.Path(name));
    ASSERT_EQ(lines.size(), 1u) << name;
    EXPECT_EQ(lines[0]["topic"], Seq(i++)) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(h.Path("log.3")));
}

TEST(MessageLogRotation, AnExistingFileCountsTowardsRotateBytes) {
  MessageLogHarness h;
  {
    std::ofstream f(h.Path("log"));
    f << std::string(899, 'o') << "\n";  // 900 bytes from an earlier run
  }
  OptionList o;
  o.Add("file", h.Path("log")).Add("rotate_bytes", "1000");
  h.InitOrFail(o);
  const FakeClient c{"client"};
  h.Publish(0, &c, OwnedMessage{Seq(0), "", 0, false});  // about 150 bytes: does not fit
  h.Fini();
  EXPECT_EQ(SizeOf(h.Path("log.1")), 900u);
  const auto lines = MessageLogHarness::ReadLines(h.Path("log"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["topic"], Seq(0));
}

}  // namespace
}  // namespace ringmq::message_log
