// libFuzzer target for the config file (core/config/config_file.h): arbitrary bytes parsed as
// a TOML config. It must never crash, and (1) an error is always InvalidArgument naming the
// file ("fuzz.toml:LINE: ..." or "fuzz.toml: ..."); (2) a config that parses passes
// ServerConfig::Validate and plans no change against itself.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config/config_file.h"
#include "core/config/reload_plan.h"

namespace {

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ringmq::config::ServerConfig> c =
      ringmq::config::ParseConfigText(text, "fuzz.toml");
  if (!c.ok()) {
    Check(c.status().code() == absl::StatusCode::kInvalidArgument, "error is InvalidArgument");
    Check(c.status().message().substr(0, 10) == "fuzz.toml:", "error names the file");
    return 0;
  }
  Check(c->Validate().ok(), "a parsed config is valid");
  Check(ringmq::config::PlanReload(*c, *c).empty(), "no change against itself");
  return 0;
}
