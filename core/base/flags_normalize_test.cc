#include "core/base/flags_normalize.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace ringmq::base {
namespace {

std::vector<std::string> Normalize(std::vector<std::string> in,
                                   std::initializer_list<std::string_view> merged = {}) {
  std::vector<char*> argv;
  argv.reserve(in.size() + 1);
  for (std::string& s : in) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  NormalizedArgs args(static_cast<int>(in.size()), argv.data(), merged);
  EXPECT_EQ(args.argv()[args.argc()], nullptr);
  std::vector<std::string> out;
  out.reserve(in.size());
  for (int i = 0; i < args.argc(); ++i) {
    out.emplace_back(args.argv()[i]);
  }
  EXPECT_EQ(out, args.args());
  return out;
}

using Args = std::vector<std::string>;

TEST(NormalizedArgsTest, DashesInNamesBecomeUnderscoresButValuesStay) {
  EXPECT_EQ(Normalize({"prog-name", "--max-keepalive=5", "--log-level", "no-such-level",
                       "--broker_pid", "7", "--e2e-window", "-1", "--x-y=a-b=c-d", "-v-x"}),
            (Args{"prog-name", "--max_keepalive=5", "--log_level", "no-such-level", "--broker_pid",
                  "7", "--e2e_window", "-1", "--x_y=a-b=c-d", "-v-x"}));
}

TEST(NormalizedArgsTest, RepeatedListFlagMergedWhereItFirstStood) {
  EXPECT_EQ(Normalize({"ringmq", "--threads", "2", "--listen", "127.0.0.1:1883", "--log-level",
                       "info", "--listen=[::1]:1883", "--listen", "0.0.0.0:8883"},
                      {"listen"}),
            (Args{"ringmq", "--threads", "2", "--listen=127.0.0.1:1883,[::1]:1883,0.0.0.0:8883",
                  "--log_level", "info"}));
  // Named with dashes, written with dashes.
  EXPECT_EQ(Normalize({"p", "--peer-address=a", "--peer-address", "b"}, {"peer-address"}),
            (Args{"p", "--peer_address=a,b"}));
  // Once: as "--NAME=V" too.
  EXPECT_EQ(Normalize({"p", "--listen", "a"}, {"listen"}), (Args{"p", "--listen=a"}));
}

TEST(NormalizedArgsTest, AListFlagWithoutAValueIsLeftForTheParserToReport) {
  EXPECT_EQ(Normalize({"p", "--listen"}, {"listen"}), (Args{"p", "--listen"}));
}

TEST(NormalizedArgsTest, NothingAfterADoubleDashIsTouched) {
  EXPECT_EQ(Normalize({"p", "--log-level=info", "--", "--not-a-flag", "--listen", "x"}, {"listen"}),
            (Args{"p", "--log_level=info", "--", "--not-a-flag", "--listen", "x"}));
}

TEST(NormalizedArgsTest, ProgramNameAndShortArgumentsUntouched) {
  EXPECT_EQ(Normalize({"--odd-program-name", "-", "--", "x-y"}),
            (Args{"--odd-program-name", "-", "--", "x-y"}));
  EXPECT_EQ(Normalize({}), Args{});
}

}  // namespace
}  // namespace ringmq::base
