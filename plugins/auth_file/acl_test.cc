#include "acl.h"

#include <string>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ringmq::auth_file {
namespace {

std::shared_ptr<const Acl> MustParse(const std::string& text) {
  std::string error;
  auto acl = Acl::Parse(text, "acl", &error);
  EXPECT_NE(acl, nullptr) << error;
  return acl;
}

std::string ParseError(const std::string& text) {
  std::string error;
  EXPECT_EQ(Acl::Parse(text, "acl", &error), nullptr) << text;
  return error;
}

ClientIdentity User(std::string_view name, std::string_view client_id = "client-1") {
  return {true, name, client_id};
}
ClientIdentity Anonymous(std::string_view client_id = "client-1") {
  return {false, {}, client_id};
}

TEST(AclParseTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(ParseError("# c\nuser\n"), "acl:2: 'user' needs a user name");
  EXPECT_EQ(ParseError("topic\n"), "acl:1: missing topic filter");
  EXPECT_EQ(ParseError("\n\ntopic read\n"), "acl:3: a topic filter must follow 'read'");
  EXPECT_EQ(ParseError("pattern deny  \t\n"), "acl:1: a topic filter must follow 'deny'");
  EXPECT_EQ(ParseError("topic a/#/b\n"),
            "acl:1: invalid topic filter 'a/#/b' ('+' and '#' fill a whole level, '#' only as "
            "the last)");
  EXPECT_EQ(ParseError("user a\ntopic write a+/b\n"),
            "acl:2: invalid topic filter 'a+/b' ('+' and '#' fill a whole level, '#' only as the "
            "last)");
  EXPECT_EQ(ParseError("topic read a\ntopics read b\n"),
            "acl:2: unknown statement 'topics' (expected user, topic or pattern)");
}

TEST(AclParseTest, CountsRulesAndReadsLoadErrors) {
  EXPECT_EQ(MustParse("# c\n\ntopic a\nuser u\ntopic deny b\npattern read c/%u\n")->rule_count(),
            3u);
  std::string error;
  EXPECT_EQ(Acl::Load("/nonexistent/acl", &error), nullptr);
  EXPECT_EQ(error, "/nonexistent/acl: No such file or directory");
}

TEST(AclTest, AccessWordsAndTheReadwriteDefault) {
  const auto acl = MustParse(
      "user u\n"
      "topic r/#\n"  // no access word: readwrite
      "topic read ro\n"
      "topic write wo\n"
      "topic readwrite rw\n");
  EXPECT_TRUE(acl->MayPublish(User("u"), "r/x"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "r/x"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "ro"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "ro"));
  EXPECT_TRUE(acl->MayPublish(User("u"), "wo"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "wo"));
  EXPECT_TRUE(acl->MayPublish(User("u"), "rw"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "rw"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "other"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "other"));
}

TEST(AclTest, FilterIsTheRestOfTheLineSpacesIncluded) {
  const auto acl = MustParse("user u\ntopic read  a b/c d \n");
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "a b/c d"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "a"));
}

TEST(AclTest, SectionsAnonymousAndUsers) {
  const auto acl = MustParse(
      "topic read public/#\n"  // before any user: anonymous clients
      "user alice\n"
      "topic readwrite alice/#\n"
      "user bob\n"
      "topic read bob/#\n"
      "user alice\n"  // a second section for alice adds to the first
      "topic write shared\n");
  EXPECT_TRUE(acl->MaySubscribe(Anonymous(), "public/news"));
  EXPECT_FALSE(acl->MayPublish(Anonymous(), "public/news"));
  EXPECT_FALSE(acl->MaySubscribe(Anonymous(), "alice/x"));
  EXPECT_TRUE(acl->MayPublish(User("alice"), "alice/x"));
  EXPECT_TRUE(acl->MayPublish(User("alice"), "shared"));
  EXPECT_FALSE(acl->MaySubscribe(User("alice"), "public/news"));  // anonymous rules are not hers
  EXPECT_FALSE(acl->MayPublish(User("bob"), "alice/x"));
  EXPECT_FALSE(acl->MayPublish(User("bob"), "bob/x"));
  EXPECT_TRUE(acl->MaySubscribe(User("bob"), "bob/x"));
  EXPECT_FALSE(acl->MaySubscribe(User("carol"), "public/news"));  // no section: nothing
  EXPECT_FALSE(acl->MaySubscribe(User(""), "public/news"));       // "" is a user name too
}

TEST(AclTest, WildcardsInRulesForPublish) {
  const auto acl = MustParse("user u\ntopic write a/+/c\ntopic write d/#\ntopic write /x\n");
  EXPECT_TRUE(acl->MayPublish(User("u"), "a/b/c"));
  EXPECT_TRUE(acl->MayPublish(User("u"), "a//c"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "a/b/c/d"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "a/c"));
  EXPECT_TRUE(acl->MayPublish(User("u"), "d"));  // '#' matches the parent level
  EXPECT_TRUE(acl->MayPublish(User("u"), "d/e/f"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "dd"));
  EXPECT_TRUE(acl->MayPublish(User("u"), "/x"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "x"));
  EXPECT_FALSE(acl->MayPublish(User("u"), "d/+"));  // not a topic name
  EXPECT_FALSE(acl->MayPublish(User("u"), ""));
}

TEST(AclTest, SubscriptionMustBeCoveredByOneRule) {
  const auto acl = MustParse(
      "user u\ntopic read a/+\ntopic read b/#\n"
      "user v\ntopic read #\n");
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "a/b"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "a/+"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "a/#"));  // would receive a and a/b/c
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "a"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "+/b"));  // would receive x/b
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "b/#"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "b"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "b/+/c/#"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "#"));
  EXPECT_TRUE(acl->MaySubscribe(User("v"), "#"));
  EXPECT_TRUE(acl->MaySubscribe(User("v"), "+/+"));
  EXPECT_FALSE(acl->MaySubscribe(User("v"), "a/#/b"));  // not a valid filter
}

TEST(AclTest, SysTopicsOnlyThroughRulesNamingThem) {
  const auto acl = MustParse(
      "user all\ntopic readwrite #\ntopic readwrite +/#\n"
      "user admin\ntopic readwrite #\ntopic read $SYS/#\n");
  EXPECT_TRUE(acl->MaySubscribe(User("all"), "#"));  // '#' receives no $SYS topic either
  EXPECT_FALSE(acl->MaySubscribe(User("all"), "$SYS/#"));
  EXPECT_FALSE(acl->MaySubscribe(User("all"), "$SYS/broker/uptime"));
  EXPECT_FALSE(acl->MayPublish(User("all"), "$SYS/x"));
  EXPECT_FALSE(acl->MayPublish(User("all"), "$other"));
  EXPECT_TRUE(acl->MaySubscribe(User("admin"), "$SYS/#"));
  EXPECT_TRUE(acl->MaySubscribe(User("admin"), "$SYS/broker/+"));
  EXPECT_FALSE(acl->MayPublish(User("admin"), "$SYS/x"));  // read only
}

TEST(AclTest, DenyWinsWhateverTheOrder) {
  for (const std::string text : {"user u\ntopic readwrite a/#\ntopic deny a/secret/#\n",
                                 "user u\ntopic deny a/secret/#\ntopic readwrite a/#\n"}) {
    const auto acl = MustParse(text);
    EXPECT_TRUE(acl->MayPublish(User("u"), "a/open"));
    EXPECT_FALSE(acl->MayPublish(User("u"), "a/secret"));
    EXPECT_FALSE(acl->MayPublish(User("u"), "a/secret/x"));
    EXPECT_TRUE(acl->MaySubscribe(User("u"), "a/open/#"));
    EXPECT_FALSE(acl->MaySubscribe(User("u"), "a/#"));  // could receive a/secret
    EXPECT_FALSE(acl->MaySubscribe(User("u"), "a/+"));
    EXPECT_FALSE(acl->MaySubscribe(User("u"), "+/secret/x"));  // not covered anyway
    EXPECT_FALSE(acl->MaySubscribe(User("u"), "a/secret/x"));
  }
  // A deny pattern beats a user's own allow.
  const auto acl = MustParse("user u\ntopic readwrite #\npattern deny private/%c/#\n");
  EXPECT_FALSE(acl->MayPublish(User("u", "c1"), "private/c1/x"));
  EXPECT_TRUE(acl->MayPublish(User("u", "c1"), "private/c2/x"));
}

TEST(AclTest, SharedSubscriptionsAreJudgedOnTheirFilter) {
  const auto acl = MustParse("user u\ntopic read jobs/#\ntopic read $SYS/#\n");
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "$share/workers/jobs/#"));
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "$share/workers/jobs/a"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share/workers/other"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share/jobs/#"));  // group "jobs", filter "#"
  EXPECT_TRUE(acl->MaySubscribe(User("u"), "$share/g/$SYS/#"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share/"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share//jobs/a"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share/g"));
  EXPECT_FALSE(acl->MaySubscribe(User("u"), "$share/g+/jobs/a"));
}

TEST(AclTest, PatternsSubstituteUserNameAndClientId) {
  const auto acl = MustParse(
      "pattern readwrite users/%u/#\n"
      "pattern write devices/dev-%c/state\n"
      "pattern read both/%u/%c\n"
      "user alice\n"
      "topic read news\n");
  EXPECT_TRUE(acl->MayPublish(User("alice"), "users/alice/x"));
  EXPECT_TRUE(acl->MaySubscribe(User("alice"), "users/alice/#"));
  EXPECT_FALSE(acl->MayPublish(User("alice"), "users/bob/x"));
  EXPECT_FALSE(acl->MaySubscribe(User("alice"), "users/+/x"));
  EXPECT_TRUE(acl->MayPublish(User("carol", "c9"), "users/carol"));  // patterns: every user
  EXPECT_TRUE(acl->MayPublish(User("alice", "k1"), "devices/dev-k1/state"));
  EXPECT_FALSE(acl->MayPublish(User("alice", "k1"), "devices/dev-k2/state"));
  EXPECT_FALSE(acl->MayPublish(User("alice", "k1"), "devices/k1/state"));
  EXPECT_TRUE(acl->MaySubscribe(User("alice", "k1"), "both/alice/k1"));
  EXPECT_FALSE(acl->MaySubscribe(User("alice", "k1"), "both/k1/alice"));
  // Anonymous clients: %u patterns do not apply, %c ones do.
  EXPECT_FALSE(acl->MayPublish(Anonymous("k3"), "users//x"));
  EXPECT_TRUE(acl->MayPublish(Anonymous("k3"), "devices/dev-k3/state"));
}

TEST(AclTest, SubstitutedValuesCannotWidenAccess) {
  const auto acl = MustParse(
      "pattern readwrite users/%u/#\n"
      "pattern read %u/#\n"
      "pattern write devices/%c\n");
  // A '/' in the value would reach other users' trees; '+' and '#' would be wildcards.
  EXPECT_FALSE(acl->MayPublish(User("bob/../alice"), "users/bob/../alice/x"));
  EXPECT_FALSE(acl->MayPublish(User("a/b"), "users/a/b"));
  EXPECT_FALSE(acl->MaySubscribe(User("+"), "users/+/#"));
  EXPECT_FALSE(acl->MaySubscribe(User("#"), "users/#"));
  EXPECT_FALSE(acl->MayPublish(User("+"), "users/+"));
  EXPECT_FALSE(acl->MaySubscribe(User("x#"), "x#/a"));
  // A user named "$SYS" must not get $SYS through `%u/#`.
  EXPECT_FALSE(acl->MaySubscribe(User("$SYS"), "$SYS/#"));
  EXPECT_FALSE(acl->MaySubscribe(User("$SYS"), "$SYS/broker/uptime"));
  EXPECT_FALSE(acl->MayPublish(User("u", "a/b"), "devices/a/b"));
  EXPECT_FALSE(acl->MayPublish(User("u", "+"), "devices/+"));
  EXPECT_FALSE(acl->MayPublish(User("u", ""), "devices/"));
  // The same clients still get what safe values give them.
  EXPECT_TRUE(acl->MayPublish(User("u", "ok"), "devices/ok"));
  EXPECT_TRUE(acl->MaySubscribe(User("u", "ok"), "u/#"));
}

TEST(AclTest, DenyPatternWithUnsafeValueDeniesEverything) {
  const auto acl = MustParse(
      "user a+b\ntopic readwrite #\npattern deny users/%u/private\n"
      "user alice\ntopic readwrite #\n");
  EXPECT_FALSE(acl->MayPublish(User("a+b"), "x"));
  EXPECT_FALSE(acl->MaySubscribe(User("a+b"), "x"));
  EXPECT_TRUE(acl->MayPublish(User("alice"), "x"));
  EXPECT_FALSE(acl->MayPublish(User("alice"), "users/alice/private"));
  EXPECT_TRUE(acl->MayPublish(User("alice"), "users/bob/private"));
}

TEST(AclTest, DefaultPolicyWithoutAclFileKeepsSysClosed) {
  EXPECT_TRUE(Acl::DefaultMayPublish("a/b"));
  EXPECT_TRUE(Acl::DefaultMaySubscribe("#"));
  EXPECT_TRUE(Acl::DefaultMaySubscribe("$share/g/#"));
  EXPECT_TRUE(Acl::DefaultMayPublish("$SYSTEM"));
  EXPECT_FALSE(Acl::DefaultMayPublish("$SYS/x"));
  EXPECT_FALSE(Acl::DefaultMaySubscribe("$SYS/#"));
  EXPECT_FALSE(Acl::DefaultMaySubscribe("$SYS"));
  EXPECT_FALSE(Acl::DefaultMaySubscribe("$share/g/$SYS/#"));
  EXPECT_FALSE(Acl::DefaultMaySubscribe("$share/g"));
}

}  // namespace
}  // namespace ringmq::auth_file
