#include "password_file.h"

#include <sodium.h>

#include <utility>

#include "text_file.h"

namespace ringmq::auth_file {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";

// Whether libsodium can decode `hash` as an argon2id string (needs_rehash answers -1 for a
// string it cannot parse; the limits passed only decide between 0 and 1).
bool IsWellFormedHash(const std::string& hash) {
  return crypto_pwhash_str_needs_rehash(hash.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE) >= 0;
}

}  // namespace

bool ParsePasswordLines(std::string_view text, std::string_view file_name,
                        std::vector<PasswordEntry>* entries, std::string* error) {
  entries->clear();
  std::unordered_map<std::string, size_t> first_line;  // user name -> line
  return ForEachLine(text, [&](size_t line_number, std::string_view line) {
    auto fail = [&](std::string_view message) {
      *error = LineError(file_name, line_number, message);
      return false;
    };
    if (line.empty() || line.front() == '#') {
      return true;
    }
    if (line.find('\0') != std::string_view::npos) {
      return fail("NUL byte in line");
    }
    const size_t colon = line.rfind(':');
    if (colon == std::string_view::npos) {
      return fail("expected username:$argon2id$... (make lines with ringmq-passwd)");
    }
    PasswordEntry entry{std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)),
                        line_number};
    if (entry.username.empty()) {
      return fail("empty user name");
    }
    if (!entry.hash.starts_with(kArgon2idPrefix)) {
      return fail("user '" + entry.username +
                  "': the hash is not an argon2id string ($argon2id$...)");
    }
    if (!IsWellFormedHash(entry.hash)) {
      return fail("user '" + entry.username + "': malformed argon2id string");
    }
    const auto [it, inserted] = first_line.emplace(entry.username, line_number);
    if (!inserted) {
      return fail("user '" + entry.username + "' again (first on line " +
                  std::to_string(it->second) + ")");
    }
    entries->push_back(std::move(entry));
    return true;
  });
}

bool IsWritableUsername(std::string_view username, std::string* why) {
  if (username.empty()) {
    *why = "the user name is empty";
  } else if (username.size() > 65535) {
    *why = "the user name is longer than 65535 bytes";
  } else if (username.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    *why = "the user name contains a NUL, CR or LF";
  } else if (username.front() == '#') {
    *why = "the user name starts with '#' (the line would be a comment)";
  } else if (TrimBlanks(username).size() != username.size()) {
    *why = "the user name starts or ends with a blank";
  } else {
    return true;
  }
  return false;
}

std::shared_ptr<const PasswordFile> PasswordFile::Parse(std::string_view text,
                                                        std::string_view file_name,
                                                        std::string* error) {
  std::vector<PasswordEntry> entries;
  if (!ParsePasswordLines(text, file_name, &entries, error)) {
    return nullptr;
  }
  auto file = std::make_shared<PasswordFile>();
  if (!entries.empty()) {
    file->decoy_hash_ = entries.front().hash;
  }
  for (PasswordEntry& e : entries) {
    file->hashes_.emplace(std::move(e.username), std::move(e.hash));
  }
  return file;
}

std::shared_ptr<const PasswordFile> PasswordFile::Load(const std::string& path,
                                                       std::string* error) {
  std::string text;
  if (!ReadTextFile(path, &text, error)) {
    return nullptr;
  }
  return Parse(text, path, error);
}

bool PasswordFile::Verify(std::string_view username, std::string_view password) const {
  const auto it = hashes_.find(std::string(username));
  const bool known = it != hashes_.end();
  const std::string& hash = known ? it->second : decoy_hash_;
  if (hash.empty()) {
    return false;  // no users at all: nothing to hide
  }
  const bool matches =
      crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
  return known && matches;
}

}  // namespace ringmq::auth_file
