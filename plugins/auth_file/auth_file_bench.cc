// The costs that matter in auth_file: the ACL decision on every PUBLISH (shard thread) and one
// argon2id check (verifier thread). Run: build/plugins/auth_file/auth_file_bench (release build,
// -Dbenchmarks=true); figures in README.md.
#include <sodium.h>

#include <string>

#include <benchmark/benchmark.h>

#include "acl.h"
#include "password_file.h"

namespace ringmq::auth_file {
namespace {

// A realistic file: 1000 users with 4 rules each, 3 patterns, 2 anonymous rules.
std::string BigAcl() {
  std::string text = "topic read public/#\ntopic read status/+\n";
  text +=
      "pattern readwrite users/%u/#\npattern write devices/%c/state\npattern deny users/%u/"
      "private/admin\n";
  for (int u = 0; u < 1000; ++u) {
    const std::string n = std::to_string(u);
    text += "user user" + n + "\ntopic readwrite home/" + n + "/#\ntopic read site/+/temp\n" +
            "topic write logs/" + n + "\ntopic deny home/" + n + "/locked\n";
  }
  return text;
}

void BM_MayPublish(benchmark::State& state, const char* topic, bool allowed) {
  std::string error;
  const auto acl = Acl::Parse(BigAcl(), "acl", &error);
  const ClientIdentity who{true, "user500", "client-500"};
  for (auto _ : state) {
    const bool ok = acl->MayPublish(who, topic);
    if (ok != allowed) {
      state.SkipWithError("unexpected decision");
      break;
    }
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK_CAPTURE(BM_MayPublish, own_rule, "home/500/kitchen/temp", true);
BENCHMARK_CAPTURE(BM_MayPublish, pattern_u, "users/user500/a/b", true);
BENCHMARK_CAPTURE(BM_MayPublish, pattern_c, "devices/client-500/state", true);
BENCHMARK_CAPTURE(BM_MayPublish, denied, "home/501/kitchen/temp", false);

void BM_MaySubscribe(benchmark::State& state) {
  std::string error;
  const auto acl = Acl::Parse(BigAcl(), "acl", &error);
  const ClientIdentity who{true, "user500", "client-500"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(acl->MaySubscribe(who, "site/+/temp"));
  }
}
BENCHMARK(BM_MaySubscribe);

// One password check at the default cost (libsodium INTERACTIVE: 64 MiB, 2 passes).
void BM_VerifyInteractive(benchmark::State& state) {
  if (sodium_init() < 0) {
    state.SkipWithError("sodium_init");
    return;
  }
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(hash, "pw", 2, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    state.SkipWithError("crypto_pwhash_str");
    return;
  }
  std::string error;
  const auto file = PasswordFile::Parse(std::string("u:") + hash + "\n", "pw", &error);
  for (auto _ : state) {
    benchmark::DoNotOptimize(file->Verify("u", "pw"));
  }
}
BENCHMARK(BM_VerifyInteractive)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace ringmq::auth_file

BENCHMARK_MAIN();
