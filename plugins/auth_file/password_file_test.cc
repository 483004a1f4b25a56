#include "password_file.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ringmq::auth_file {
namespace {

using testing::CheapHash;

std::string ParseError(const std::string& text) {
  std::string error;
  EXPECT_EQ(PasswordFile::Parse(text, "pw", &error), nullptr) << text;
  return error;
}

TEST(PasswordFileTest, SkipsCommentsAndBlankLinesAndReadsCrlf) {
  const std::string text = "# users\n\n  \nalice:" + CheapHash("a1") +
                           "\r\n   # indented\nbob:" + CheapHash("b2");  // no final newline
  std::vector<PasswordEntry> entries;
  std::string error;
  ASSERT_TRUE(ParsePasswordLines(text, "pw", &entries, &error)) << error;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].username, "alice");
  EXPECT_EQ(entries[0].line, 4u);
  EXPECT_EQ(entries[1].username, "bob");
  EXPECT_EQ(entries[1].line, 6u);
  const auto file = PasswordFile::Parse(text, "pw", &error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_EQ(file->user_count(), 2u);
  EXPECT_TRUE(file->Verify("alice", "a1"));
  EXPECT_TRUE(file->Verify("bob", "b2"));
}

TEST(PasswordFileTest, UserNameIsEverythingBeforeTheLastColon) {
  std::string error;
  const auto file = PasswordFile::Parse("urn:x:dev:" + CheapHash("pw") + "\n", "pw", &error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_TRUE(file->HasUser("urn:x:dev"));
  EXPECT_TRUE(file->Verify("urn:x:dev", "pw"));
}

TEST(PasswordFileTest, ErrorsNameFileAndLine) {
  const std::string good = "ok:" + CheapHash("x") + "\n";
  EXPECT_EQ(ParseError("# c\nalice\n"),
            "pw:2: expected username:$argon2id$... (make lines with ringmq-passwd)");
  EXPECT_EQ(ParseError(good + ":" + CheapHash("x")), "pw:2: empty user name");
  EXPECT_EQ(ParseError("bob:$2y$10$abcdefghijklmnopqrstuv\n"),
            "pw:1: user 'bob': the hash is not an argon2id string ($argon2id$...)");
  EXPECT_EQ(ParseError("bob:$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g\n"),
            "pw:1: user 'bob': the hash is not an argon2id string ($argon2id$...)");
  EXPECT_EQ(ParseError("\n\nbob:$argon2id$v=19$garbage\n"),
            "pw:3: user 'bob': malformed argon2id string");
  EXPECT_EQ(ParseError(good + "\n" + good), "pw:3: user 'ok' again (first on line 1)");
  EXPECT_EQ(ParseError(std::string("a\0b:", 4) + CheapHash("x")), "pw:1: NUL byte in line");
}

TEST(PasswordFileTest, VerifiesBinaryPasswordsAndRefusesWrongOnes) {
  const std::string binary("p\0w\xff", 4);
  std::string error;
  const auto file = PasswordFile::Parse("u:" + CheapHash(binary) + "\n", "pw", &error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_TRUE(file->Verify("u", binary));
  EXPECT_FALSE(file->Verify("u", "p"));  // stops at the NUL: must not match
  EXPECT_FALSE(file->Verify("u", ""));
  EXPECT_FALSE(file->Verify("U", binary));  // user names are case-sensitive
  EXPECT_FALSE(file->Verify("nobody", binary));
}

TEST(PasswordFileTest, UnknownUserPasswordMatchingTheDecoyIsStillRefused) {
  // The decoy for unknown users is the first user's hash: its password must not let anyone in
  // under another name.
  std::string error;
  const auto file = PasswordFile::Parse("first:" + CheapHash("secret") + "\n", "pw", &error);
  ASSERT_NE(file, nullptr) << error;
  EXPECT_FALSE(file->Verify("mallory", "secret"));
  EXPECT_TRUE(file->Verify("first", "secret"));
}

double BestOfThreeMs(const PasswordFile& file, const std::string& user) {
  double best = 1e9;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(file.Verify(user, "wrong"));
    best = std::min(
        best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count());
  }
  return best;
}

TEST(PasswordFileTest, UnknownUserTakesAsLongAsAKnownOne) {
  // A hash costly enough (4 MiB, 3 passes: a few ms) to stand out from noise: an unknown user
  // must cost a full check too, or timing would tell which user names exist.
  ASSERT_GE(sodium_init(), 0);
  char hash[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_str(hash, "pw", 2, 3, 4u << 20), 0);
  std::string error;
  const auto file = PasswordFile::Parse(std::string("known:") + hash + "\n", "pw", &error);
  ASSERT_NE(file, nullptr) << error;
  const double known_ms = BestOfThreeMs(*file, "known");
  const double unknown_ms = BestOfThreeMs(*file, "unknown");
  EXPECT_GT(unknown_ms, known_ms * 0.5) << "known " << known_ms << " ms, unknown " << unknown_ms;
}

TEST(PasswordFileTest, LoadNamesTheMissingFile) {
  std::string error;
  EXPECT_EQ(PasswordFile::Load("/nonexistent/auth_file/pw", &error), nullptr);
  EXPECT_EQ(error, "/nonexistent/auth_file/pw: No such file or directory");
}

TEST(PasswordFileTest, LoadReportsErrorsWithThePath) {
  testing::TempDir dir;
  const std::string path = dir.Write("passwords", "# one\nbroken\n");
  std::string error;
  EXPECT_EQ(PasswordFile::Load(path, &error), nullptr);
  EXPECT_EQ(error, path + ":2: expected username:$argon2id$... (make lines with ringmq-passwd)");
}

TEST(PasswordFileTest, WritableUserNames) {
  std::string why;
  EXPECT_TRUE(IsWritableUsername("alice", &why));
  EXPECT_TRUE(IsWritableUsername("a b:c", &why));
  EXPECT_FALSE(IsWritableUsername("", &why));
  EXPECT_FALSE(IsWritableUsername("#admin", &why));
  EXPECT_EQ(why, "the user name starts with '#' (the line would be a comment)");
  EXPECT_FALSE(IsWritableUsername(" alice", &why));
  EXPECT_FALSE(IsWritableUsername("alice\t", &why));
  EXPECT_FALSE(IsWritableUsername("a\nb", &why));
  EXPECT_FALSE(IsWritableUsername(std::string("a\0b", 3), &why));
  EXPECT_FALSE(IsWritableUsername(std::string(65536, 'x'), &why));
}

}  // namespace
}  // namespace ringmq::auth_file
