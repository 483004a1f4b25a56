// The plugin through its C ABI only (ringmq_plugin_entry), with a fake host: options, the
// decisions with their reason codes, completion from the verifier threads, and reload.
#include "ringmq/plugin.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "test_util.h"

namespace ringmq::auth_file {
namespace {

using testing::CheapHash;

struct FakeClient {
  std::string id = "client-1";
  bool has_username = false;
  std::string username;
  std::string cert_identity;  // what the listener took from the TLS client certificate
};

std::string_view View(ringmq_str s) {
  return {s.ptr, s.len};
}
ringmq_str Str(const std::string& s) {
  return {s.data(), s.size()};
}

// The host's side: api must stay the first member (hooks get &api back).
struct FakeHost {
  ringmq_host_api api{};
  std::mutex mu;
  std::condition_variable changed;
  std::map<uint64_t, ringmq_decision> completed;
  std::vector<std::string> log;
  bool hold_completions = false;
  size_t completions_entered = 0;

  FakeHost() {
    api.struct_size = sizeof(api);
    api.abi_major = RINGMQ_PLUGIN_ABI_MAJOR;
    api.abi_minor = RINGMQ_PLUGIN_ABI_MINOR;
    api.log = [](const ringmq_host_api* h, uint32_t, ringmq_str m) {
      auto* self = Self(h);
      std::lock_guard<std::mutex> lock(self->mu);
      self->log.emplace_back(View(m));
    };
    api.complete = [](const ringmq_host_api* h, uint64_t ticket, ringmq_decision d) {
      auto* self = Self(h);
      std::unique_lock<std::mutex> lock(self->mu);
      self->completed[ticket] = d;
      ++self->completions_entered;
      self->changed.notify_all();
      self->changed.wait(lock, [self] { return !self->hold_completions; });
    };
    api.client_id = [](const ringmq_client* c) { return Str(Client(c)->id); };
    api.client_username = [](const ringmq_client* c, bool* present) {
      if (present != nullptr) {
        *present = Client(c)->has_username;
      }
      return Str(Client(c)->username);
    };
    api.client_cert_identity = [](const ringmq_client* c) { return Str(Client(c)->cert_identity); };
    api.client_protocol = [](const ringmq_client*) -> uint32_t { return RINGMQ_MQTT_50; };
  }
  static FakeHost* Self(const ringmq_host_api* h) {
    return const_cast<FakeHost*>(reinterpret_cast<const FakeHost*>(h));
  }
  static const FakeClient* Client(const ringmq_client* c) {
    return reinterpret_cast<const FakeClient*>(c);
  }

  ringmq_decision WaitCompleted(uint64_t ticket) {
    std::unique_lock<std::mutex> lock(mu);
    const bool done = changed.wait_for(lock, std::chrono::seconds(10),
                                       [&] { return completed.contains(ticket); });
    EXPECT_TRUE(done) << "ticket " << ticket << " never completed";
    return done ? completed[ticket] : ringmq_decision{99, 99};
  }
  bool WaitEntered(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return changed.wait_for(lock, std::chrono::seconds(10),
                            [&] { return completions_entered >= n; });
  }
  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu);
    hold_completions = hold;
    changed.notify_all();
  }
};

using Options = std::vector<std::pair<std::string, std::string>>;

// One loaded plugin with one core, as the host drives it.
class PluginTest : public ::testing::Test {
 protected:
  void TearDown() override {
    host_.Hold(false);
    if (core_ != nullptr) {
      hooks_->core_fini(core_);
    }
    if (global_ != nullptr) {
      hooks_->global_fini(global_);
    }
  }

  ringmq_plugin_config Config(const Options& options) {
    options_.clear();
    for (const auto& [k, v] : options) {
      options_.push_back({Str(k), Str(v)});
    }
    return {sizeof(ringmq_plugin_config), {"auth_file", 9}, options_.data(), options_.size(), 1};
  }

  // global_init; returns the error ("" on success, and then core_init has run).
  std::string Init(const Options& options) {
    const ringmq_plugin_descriptor* d = ringmq_plugin_entry(&host_.api);
    EXPECT_NE(d, nullptr);
    hooks_ = d->hooks;
    const ringmq_plugin_config config = Config(options);
    char error[256] = "untouched";
    global_ = hooks_->global_init(&host_.api, &config, error, sizeof(error));
    if (global_ == nullptr) {
      return error;
    }
    core_ = hooks_->core_init(global_, nullptr, 0);
    EXPECT_NE(core_, nullptr);
    return "";
  }

  std::string Reload(const Options& options) {
    const ringmq_plugin_config config = Config(options);
    char error[256] = "";
    if (!hooks_->reload(global_, &config, error, sizeof(error))) {
      return error;
    }
    hooks_->core_reload(core_);
    return "";
  }

  // CONNECT as `user` (nullptr: no user name) with `password` (nullptr: none); a PENDING answer
  // is waited for. Returns the final decision.
  ringmq_decision Connect(const char* user, const char* password,
                          std::string client_id = "client-1", std::string cert_identity = "") {
    FakeClient client;
    client.id = std::move(client_id);
    client.cert_identity = std::move(cert_identity);
    client.has_username = user != nullptr;
    client.username = user != nullptr ? user : "";
    ringmq_connect connect{sizeof(ringmq_connect), password != nullptr, true,
                           ringmq_str_of(password)};
    const uint64_t ticket = ++ticket_;
    const ringmq_decision d = hooks_->authenticate(
        core_, reinterpret_cast<const ringmq_client*>(&client), &connect, ticket);
    return d.verdict == RINGMQ_PENDING ? host_.WaitCompleted(ticket) : d;
  }

  ringmq_decision Publish(const FakeClient& client, const std::string& topic, bool will = false) {
    ringmq_message m{sizeof(ringmq_message), 1, false, Str(topic), {"x", 1}};
    return hooks_->authorize_publish(core_, reinterpret_cast<const ringmq_client*>(&client), &m,
                                     will, ++ticket_);
  }

  ringmq_decision Subscribe(const FakeClient& client, const std::string& filter) {
    return hooks_->authorize_subscribe(core_, reinterpret_cast<const ringmq_client*>(&client),
                                       Str(filter), 1, ++ticket_);
  }

  FakeHost host_;
  const ringmq_plugin_hooks* hooks_ = nullptr;
  void* global_ = nullptr;
  void* core_ = nullptr;
  uint64_t ticket_ = 0;
  std::vector<ringmq_option> options_;
  testing::TempDir dir_;
};

void ExpectDecision(ringmq_decision d, uint32_t verdict, uint32_t reason) {
  EXPECT_EQ(d.verdict, verdict);
  EXPECT_EQ(d.reason, reason);
}

FakeClient User(std::string name, std::string id = "client-1") {
  return {std::move(id), true, std::move(name)};
}

TEST_F(PluginTest, EntryChecksTheMajorVersion) {
  const ringmq_plugin_descriptor* d = ringmq_plugin_entry(&host_.api);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->abi_major, RINGMQ_PLUGIN_ABI_MAJOR);
  EXPECT_EQ(View(d->name), "auth_file");
  EXPECT_EQ(d->hooks->auth_step, nullptr);
  host_.api.abi_major = RINGMQ_PLUGIN_ABI_MAJOR + 1;
  EXPECT_EQ(ringmq_plugin_entry(&host_.api), nullptr);
  EXPECT_EQ(ringmq_plugin_entry(nullptr), nullptr);
}

TEST_F(PluginTest, OptionErrorsNameTheKey) {
  const std::string pw = dir_.Write("pw", "");
  EXPECT_EQ(Init({{"password_file", pw}, {"pasword_file", pw}}),
            "unknown option 'pasword_file' (known: password_file, acl_file, allow_anonymous, "
            "verify_threads, verify_queue, client_id_prefix)");
  EXPECT_EQ(Init({{"password_file", pw}, {"client_id_prefix", "app-%c-"}}),
            "option 'client_id_prefix': '%c' is not %u (the only variable), in 'app-%c-'");
  EXPECT_EQ(Init({{"acl_file", pw}}), "option 'password_file' is required");
  EXPECT_EQ(Init({{"password_file", pw}, {"allow_anonymous", "yes"}}),
            "option 'allow_anonymous': expected true or false, got 'yes'");
  EXPECT_EQ(Init({{"password_file", pw}, {"verify_threads", "0"}}),
            "option 'verify_threads': expected an integer from 1 to 64, got '0'");
  EXPECT_EQ(Init({{"password_file", pw}, {"verify_queue", "12x"}}),
            "option 'verify_queue': expected an integer from 1 to 100000, got '12x'");
  EXPECT_EQ(Init({{"password_file", pw}, {"password_file", pw}}),
            "option 'password_file' given twice");
  const std::string bad = dir_.Write("bad", "\nalice:nohash\n");
  EXPECT_EQ(Init({{"password_file", bad}}),
            bad + ":2: user 'alice': the hash is not an argon2id string ($argon2id$...)");
  EXPECT_EQ(Init({{"password_file", pw}, {"acl_file", dir_.Write("acl", "topic\n")}}),
            dir_.Write("acl", "topic\n") + ":1: missing topic filter");
}

TEST_F(PluginTest, AuthenticatesOnWorkerThreadsWithReasonCodes) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  ASSERT_EQ(Init({{"password_file", pw}}), "");
  ExpectDecision(Connect("alice", "right"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("alice", "wrong"), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect("bob", "right"), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect("alice", nullptr), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect(nullptr, "right"), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect(nullptr, nullptr), RINGMQ_DENY, 0x87);  // anonymous: not authorized
}

TEST_F(PluginTest, AnonymousClientsWhenAllowed) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  ASSERT_EQ(Init({{"password_file", pw}, {"allow_anonymous", "true"}}), "");
  ExpectDecision(Connect(nullptr, nullptr), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("alice", "wrong"), RINGMQ_DENY, 0x86);  // credentials are still checked
}

// A listener with identity_as_username: the user name is the client certificate's identity,
// which the TLS handshake verified; no password is asked, and the ACL applies to that user.
TEST_F(PluginTest, CertificateIdentityNeedsNoPassword) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  const std::string acl = dir_.Write("acl", "user carol\ntopic readwrite carol/#\n");
  ASSERT_EQ(Init({{"password_file", pw}, {"acl_file", acl}, {"client_id_prefix", "dev-%u-"}}), "");
  ExpectDecision(Connect("carol", nullptr, "dev-carol-1", "carol"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("carol", "anything", "dev-carol-1", "carol"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("alice", nullptr, "dev-alice-1", "alice"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("carol", nullptr, "dev-alice-1", "carol"), RINGMQ_DENY, 0x85);
  // A name the CA signed but neither file knows is no user of this broker (a broad CA signs
  // many names).
  ExpectDecision(Connect("dave", nullptr, "dev-dave-1", "dave"), RINGMQ_DENY, 0x86);
  // An identity that is not the user name proves nothing about that name.
  ExpectDecision(Connect("alice", nullptr, "dev-alice-1", "carol"), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect("carol", nullptr, "dev-carol-1"), RINGMQ_DENY, 0x86);
}

// client_id_prefix binds client ids to user names, so that no one takes over (and reads) the
// persistent session of another user by connecting with its client id.
TEST_F(PluginTest, ClientIdMustStartWithThePrefixOfItsUser) {
  const std::string pw =
      dir_.Write("pw", "alice:" + CheapHash("right") + "\n" + "bob:" + CheapHash("bobs") + "\n" +
                           "alice-2:" + CheapHash("a2") + "\n");
  ASSERT_EQ(
      Init({{"password_file", pw}, {"client_id_prefix", "msgr-%u-"}, {"allow_anonymous", "true"}}),
      "");
  ExpectDecision(Connect("alice", "right", "msgr-alice-phone"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("alice", "right", "msgr-alice-"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect("bob", "bobs", "msgr-alice-phone"), RINGMQ_DENY, 0x85);
  ExpectDecision(Connect("alice", "right", "msgr-alic"), RINGMQ_DENY, 0x85);
  ExpectDecision(Connect("alice", "right", "other"), RINGMQ_DENY, 0x85);
  // A user name holding the character after %u could be read as another's prefix: refused.
  ExpectDecision(Connect("alice-2", "a2", "msgr-alice-2-phone"), RINGMQ_DENY, 0x85);
  // Checked before the password: a wrong password with a wrong id is refused as the id.
  ExpectDecision(Connect("bob", "wrong", "msgr-alice-phone"), RINGMQ_DENY, 0x85);
  // Anonymous clients: %u is empty, so none can use a user's ids.
  ExpectDecision(Connect(nullptr, nullptr, "msgr--kiosk"), RINGMQ_ALLOW, 0);
  ExpectDecision(Connect(nullptr, nullptr, "msgr-alice-phone"), RINGMQ_DENY, 0x85);
  // A reload can drop it.
  ASSERT_EQ(Reload({{"password_file", pw}}), "");
  ExpectDecision(Connect("bob", "bobs", "anything"), RINGMQ_ALLOW, 0);
}

TEST_F(PluginTest, FullQueueRefusesWithServerUnavailable) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  ASSERT_EQ(Init({{"password_file", pw}, {"verify_threads", "1"}, {"verify_queue", "1"}}), "");
  host_.Hold(true);
  FakeClient client = User("alice");
  ringmq_connect connect{sizeof(ringmq_connect), true, true, {"right", 5}};
  auto authenticate = [&](uint64_t ticket) {
    return hooks_->authenticate(core_, reinterpret_cast<const ringmq_client*>(&client), &connect,
                                ticket);
  };
  ExpectDecision(authenticate(1), RINGMQ_PENDING, 0);
  ASSERT_TRUE(host_.WaitEntered(1));                   // the worker is held inside host->complete
  ExpectDecision(authenticate(2), RINGMQ_PENDING, 0);  // queued
  ExpectDecision(authenticate(3), RINGMQ_DENY, 0x88);  // queue full
  host_.Hold(false);
  ExpectDecision(host_.WaitCompleted(2), RINGMQ_ALLOW, 0);
}

TEST_F(PluginTest, AclDecisionsForPublishWillsAndSubscribe) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  const std::string acl = dir_.Write(
      "acl", "topic read public/#\nuser alice\ntopic readwrite alice/#\npattern write dev/%c\n");
  ASSERT_EQ(Init({{"password_file", pw}, {"acl_file", acl}, {"allow_anonymous", "true"}}), "");
  ExpectDecision(Publish(User("alice"), "alice/x"), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(User("alice"), "alice/x", /*will=*/true), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(User("alice"), "public/x"), RINGMQ_DENY, 0x87);
  ExpectDecision(Publish(User("alice"), "public/x", /*will=*/true), RINGMQ_DENY, 0x87);
  ExpectDecision(Publish(User("alice", "k7"), "dev/k7"), RINGMQ_ALLOW, 0);
  ExpectDecision(Subscribe(User("alice"), "alice/#"), RINGMQ_ALLOW, 0);
  ExpectDecision(Subscribe(User("alice"), "#"), RINGMQ_DENY, 0x87);
  const FakeClient anonymous;
  ExpectDecision(Subscribe(anonymous, "public/#"), RINGMQ_ALLOW, 0);
  ExpectDecision(Subscribe(anonymous, "$share/g/public/+"), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(anonymous, "public/x"), RINGMQ_DENY, 0x87);
}

TEST_F(PluginTest, WithoutAclFileEverythingButSys) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("right") + "\n");
  ASSERT_EQ(Init({{"password_file", pw}}), "");
  ExpectDecision(Publish(User("alice"), "any/topic"), RINGMQ_ALLOW, 0);
  ExpectDecision(Subscribe(User("alice"), "#"), RINGMQ_ALLOW, 0);
  ExpectDecision(Subscribe(User("alice"), "$SYS/#"), RINGMQ_DENY, 0x87);
  ExpectDecision(Publish(User("alice"), "$SYS/x"), RINGMQ_DENY, 0x87);
}

TEST_F(PluginTest, ReloadKeepsTheRunningTablesOnError) {
  const std::string pw = dir_.Write("pw", "alice:" + CheapHash("one") + "\n");
  const std::string acl = dir_.Write("acl", "user alice\ntopic readwrite a/#\n");
  const Options options = {{"password_file", pw}, {"acl_file", acl}};
  ASSERT_EQ(Init(options), "");
  // 1. A broken password file: refused with FILE:LINE, the old passwords stay.
  dir_.Write("pw", "alice:" + CheapHash("two") + "\nbroken line\n");
  EXPECT_EQ(Reload(options), pw + ":2: expected username:$argon2id$... (make lines with "
                                  "ringmq-passwd)");
  ExpectDecision(Connect("alice", "one"), RINGMQ_ALLOW, 0);
  // 2. A broken ACL (with a good password file): refused too, old ACL and old passwords stay.
  dir_.Write("pw", "alice:" + CheapHash("two") + "\n");
  dir_.Write("acl", "user alice\ntopic readwrite b/#\nbogus\n");
  EXPECT_EQ(Reload(options),
            acl + ":3: unknown statement 'bogus' (expected user, topic or pattern)");
  ExpectDecision(Connect("alice", "one"), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(User("alice"), "a/x"), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(User("alice"), "b/x"), RINGMQ_DENY, 0x87);
  // 3. Unknown option on reload: refused.
  Options bad = options;
  bad.emplace_back("verify_thread", "2");
  EXPECT_EQ(Reload(bad).rfind("unknown option 'verify_thread'", 0), 0u);
  // 4. Fixed: taken by the shard at core_reload.
  dir_.Write("acl", "user alice\ntopic readwrite b/#\n");
  const ringmq_plugin_config config = Config(options);
  char error[256] = "";
  ASSERT_TRUE(hooks_->reload(global_, &config, error, sizeof(error))) << error;
  ExpectDecision(Connect("alice", "one"), RINGMQ_ALLOW, 0);  // before core_reload: old tables
  hooks_->core_reload(core_);
  ExpectDecision(Connect("alice", "one"), RINGMQ_DENY, 0x86);
  ExpectDecision(Connect("alice", "two"), RINGMQ_ALLOW, 0);
  ExpectDecision(Publish(User("alice"), "a/x"), RINGMQ_DENY, 0x87);
  ExpectDecision(Publish(User("alice"), "b/x"), RINGMQ_ALLOW, 0);
}

}  // namespace
}  // namespace ringmq::auth_file
