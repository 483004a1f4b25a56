// plugins/auth_file/acl.h: the ACL file: parse it, and decide publishes and subscriptions.
//
// Format (one statement per line; blank lines and lines starting with '#' are skipped):
//   user NAME                      the rules below, up to the next `user`, are NAME's
//   topic [ACCESS] FILTER          a rule of the current section
//   pattern [ACCESS] FILTER        a rule for every client, with %u (user name) and %c (client
//                                  id) replaced in FILTER; may appear anywhere
// ACCESS is read, write, readwrite (the default) or deny. Rules before the first `user` line
// form the anonymous section: they apply to clients that connected without a user name. FILTER
// is the rest of the line (spaces included) and may use '+' and '#'.
//
// Decisions (all default to "no"):
//   publish (and a will) to TOPIC: no when a deny rule matches TOPIC; yes when a write rule does.
//   subscribe to FILTER ("$share/GROUP/FILTER" is judged on FILTER): no when a deny rule could
//     match any topic FILTER matches (FiltersOverlap); yes when one read rule matches every topic
//     FILTER matches (FilterCovers): a rule `a/+` allows `a/b` and `a/+`, but not `a/#`.
//   A client sees its section's rules (its user's, or the anonymous one) and every pattern.
//   Topics starting with '$' ($SYS/...) are reached only by rules naming them ($SYS/#), never by
//   a rule starting with a wildcard, as in MQTT matching.
//   A pattern applies only when the client has its values: one using %u does not apply to an
//   anonymous client (nor %c to an empty client id). A value that starts with '$' or contains
//   '+', '#' or '/' must not widen access: an allow pattern using it does not apply, and a deny
//   pattern using it denies everything.
//
// Threads: an Acl is immutable once parsed; any thread may ask it at once (the shards, on every
// PUBLISH). MayPublish does not allocate.
#ifndef RINGMQ_PLUGINS_AUTH_FILE_ACL_H
#define RINGMQ_PLUGINS_AUTH_FILE_ACL_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringmq::auth_file {

// Who asks: the connected client, read through the host for the duration of a hook.
struct ClientIdentity {
  bool has_username = false;
  std::string_view username;
  std::string_view client_id;
};

class Acl {
 public:
  // nullptr on failure with *error "FILE:LINE: problem".
  static std::shared_ptr<const Acl> Parse(std::string_view text, std::string_view file_name,
                                          std::string* error);
  static std::shared_ptr<const Acl> Load(const std::string& path, std::string* error);

  [[nodiscard]] bool MayPublish(const ClientIdentity& who, std::string_view topic) const;
  [[nodiscard]] bool MaySubscribe(const ClientIdentity& who, std::string_view subscription) const;

  // Without an ACL file: everything but $SYS (topics whose first level is "$SYS"), which only an
  // ACL file can grant.
  static bool DefaultMayPublish(std::string_view topic);
  static bool DefaultMaySubscribe(std::string_view subscription);

  size_t rule_count() const { return rule_count_; }
  // Whether a `user NAME` section names this user.
  [[nodiscard]] bool NamesUser(std::string_view username) const {
    return users_.find(username) != users_.end();
  }

  // Internal representation, public for acl.cc's helpers.
  enum Access : uint8_t { kRead = 1, kWrite = 2, kReadWrite = 3 };
  struct Level {
    enum class Kind : uint8_t { kLiteral, kPlus, kHash, kTemplate };
    Kind kind;
    std::string text;  // the literal, or the template with %u / %c in it
  };
  struct Rule {
    uint8_t access = 0;  // kRead | kWrite; unused for deny rules
    bool uses_username = false;
    bool uses_client_id = false;
    std::string filter;  // as written
    std::vector<Level> levels;
  };
  struct RuleSet {
    std::vector<Rule> deny;
    std::vector<Rule> allow;
  };

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  const RuleSet* SectionOf(const ClientIdentity& who) const;

  RuleSet anonymous_;
  std::unordered_map<std::string, RuleSet, StringHash, std::equal_to<>> users_;
  RuleSet patterns_;
  size_t rule_count_ = 0;
};

}  // namespace ringmq::auth_file

#endif  // RINGMQ_PLUGINS_AUTH_FILE_ACL_H
