// plugins/auth_file/password_file.h: the password file: parse it, and check a password.
//
// Format, one user per line:
//   username:$argon2id$v=19$m=65536,t=2,p=1$SALT$HASH
// (the string libsodium's crypto_pwhash_str() writes; ringmq-passwd makes such lines). The
// user name is everything before the last ':' (so it may itself contain ':'); lines are trimmed
// of blanks; empty lines and lines starting with '#' are skipped. Every error names FILE:LINE.
//
// Threads: a PasswordFile is immutable once built. Verify() may run on several threads at once
// (the verifier pool's workers); it is slow on purpose (one argon2id check), so it must never
// run on a shard thread. Tables reach the workers as shared_ptr<const PasswordFile>, so a
// reload can replace them while checks against the old table are still running.
#ifndef RINGMQ_PLUGINS_AUTH_FILE_PASSWORD_FILE_H
#define RINGMQ_PLUGINS_AUTH_FILE_PASSWORD_FILE_H

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringmq::auth_file {

// One user's line of a password file.
struct PasswordEntry {
  std::string username;
  std::string hash;  // "$argon2id$..."
  size_t line = 0;   // 1-based
};

// Parses `text` (the contents of `file_name`, which only appears in errors) into its entries,
// in file order. Checks every hash (argon2id, well formed) and refuses a user named twice.
// On failure returns false with *error "FILE:LINE: problem".
[[nodiscard]] bool ParsePasswordLines(std::string_view text, std::string_view file_name,
                                      std::vector<PasswordEntry>* entries, std::string* error);

// Whether ringmq-passwd may write `username` as a line's user name: not empty, at most 65535
// bytes (MQTT's limit), no NUL/CR/LF, no leading '#' (a comment) and no leading or trailing
// blank (lines are trimmed). On false, *why says which rule.
[[nodiscard]] bool IsWritableUsername(std::string_view username, std::string* why);

class PasswordFile {
 public:
  // nullptr on failure, with *error as for ParsePasswordLines.
  static std::shared_ptr<const PasswordFile> Parse(std::string_view text,
                                                   std::string_view file_name, std::string* error);
  // Reads and parses the file at `path`; errors name the path.
  static std::shared_ptr<const PasswordFile> Load(const std::string& path, std::string* error);

  // True when `username` is in the file and `password` (binary) is its password. An unknown
  // user's password is still checked, against the first user's hash, so the time taken does not
  // tell which users exist (the answer is false either way). Slow: worker threads only.
  [[nodiscard]] bool Verify(std::string_view username, std::string_view password) const;

  size_t user_count() const { return hashes_.size(); }
  bool HasUser(const std::string& username) const { return hashes_.contains(username); }

 private:
  std::unordered_map<std::string, std::string> hashes_;  // user name -> argon2id string
  std::string decoy_hash_;  // checked for unknown users; empty when the file has no users
};

}  // namespace ringmq::auth_file

#endif  // RINGMQ_PLUGINS_AUTH_FILE_PASSWORD_FILE_H
