#include "tests/config/config_test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace ringmq::config::testing {

TempConfigFile::TempConfigFile(std::string_view name, std::string_view text) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr ? tmp : "/tmp") + "/ringmq_config_XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  dir_ = templ;
  path_ = dir_ + "/" + std::string(name);
  std::FILE* f = std::fopen(path_.c_str(), "wb");
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size()) {
    std::perror("write config");
    std::abort();
  }
  std::fclose(f);
}

TempConfigFile::~TempConfigFile() {
  ::unlink(path_.c_str());
  ::rmdir(dir_.c_str());
}

std::string ExampleConfigPath() {
  const char* p = std::getenv("RINGMQ_EXAMPLE_CONFIG");
  return p != nullptr ? p : "";
}

}  // namespace ringmq::config::testing
