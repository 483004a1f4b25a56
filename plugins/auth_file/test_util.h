// plugins/auth_file/test_util.h: helpers shared by the auth_file unit tests (test-only).
#ifndef RINGMQ_PLUGINS_AUTH_FILE_TEST_UTIL_H
#define RINGMQ_PLUGINS_AUTH_FILE_TEST_UTIL_H

#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

namespace ringmq::auth_file::testing {

// An argon2id string at libsodium's lowest cost (8 KiB, one pass): fast enough for unit tests.
inline std::string CheapHash(std::string_view password) {
  EXPECT_GE(sodium_init(), 0);
  char out[crypto_pwhash_STRBYTES];
  EXPECT_EQ(crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_MIN,
                              crypto_pwhash_MEMLIMIT_MIN),
            0);
  return out;
}

// A temporary folder, removed with what it holds.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "auth_file_test.XXXXXX");
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to NAME in the folder and returns its path.
  std::string Write(const std::string& name, std::string_view text) const {
    const std::string path = path_ + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr) << path;
    if (f != nullptr) {
      std::fwrite(text.data(), 1, text.size(), f);
      std::fclose(f);
    }
    return path;
  }

 private:
  std::string path_;
};

}  // namespace ringmq::auth_file::testing

#endif  // RINGMQ_PLUGINS_AUTH_FILE_TEST_UTIL_H
