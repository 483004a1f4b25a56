#include "acl.h"

#include <utility>

#include "text_file.h"
#include "topic_filter.h"

namespace ringmq::auth_file {
namespace {

using Level = Acl::Level;
using Rule = Acl::Rule;
using RuleSet = Acl::RuleSet;

// What a client offers for %u or %c, checked once per decision.
enum class Value : uint8_t {
  kAbsent,  // no user name (an anonymous client), or an empty client id
  kSafe,
  kUnsafe,  // contains '+', '#' or '/', or starts with '$': it could widen a rule
};
struct Substitutions {
  Value username = Value::kAbsent;
  Value client_id = Value::kAbsent;
};

// A value may stand in for %u / %c only if it cannot widen the rule: no level separator, no
// wildcard, and no leading '$' (which would let `%u/#` reach $SYS for a user named "$SYS").
Value Classify(bool present, std::string_view v) {
  if (!present || v.empty()) {
    return Value::kAbsent;
  }
  return v.front() != '$' && v.find_first_of("+#/") == std::string_view::npos ? Value::kSafe
                                                                              : Value::kUnsafe;
}

Substitutions SubstitutionsOf(const ClientIdentity& who) {
  return {Classify(who.has_username, who.username), Classify(true, who.client_id)};
}

// How a rule applies to a client: a rule without patterns always applies; a pattern whose value
// is absent does not (it is about someone else); one whose value is unsafe must not widen
// access, so as an allow it is skipped and as a deny it denies everything.
enum class Fit : uint8_t { kApplies, kSkip, kUnsafe };
Fit FitOf(const Rule& rule, Substitutions subs) {
  const Value u = rule.uses_username ? subs.username : Value::kSafe;
  const Value c = rule.uses_client_id ? subs.client_id : Value::kSafe;
  if (u == Value::kAbsent || c == Value::kAbsent) {
    return Fit::kSkip;
  }
  return u == Value::kUnsafe || c == Value::kUnsafe ? Fit::kUnsafe : Fit::kApplies;
}

// Calls fn(piece, variable) over a template: literal pieces with variable 0, and 'u' / 'c' for
// %u / %c. Returns false as soon as fn does.
template <typename Fn>
bool ForEachPiece(std::string_view tmpl, Fn&& fn) {
  size_t literal_start = 0;
  for (size_t i = 0; i + 1 < tmpl.size(); ++i) {
    if (tmpl[i] == '%' && (tmpl[i + 1] == 'u' || tmpl[i + 1] == 'c')) {
      if (!fn(tmpl.substr(literal_start, i - literal_start), '\0') || !fn({}, tmpl[i + 1])) {
        return false;
      }
      literal_start = i + 2;
      ++i;
    }
  }
  return fn(tmpl.substr(literal_start), '\0');
}

std::string_view ValueOf(char variable, const ClientIdentity& who) {
  return variable == 'u' ? who.username : who.client_id;
}

// Whether `level` is the template with the client's values in it (no allocation).
bool TemplateMatches(std::string_view tmpl, std::string_view level, const ClientIdentity& who) {
  return ForEachPiece(tmpl,
                      [&](std::string_view literal, char variable) {
                        const std::string_view piece = variable ? ValueOf(variable, who) : literal;
                        if (!level.starts_with(piece)) {
                          return false;
                        }
                        level.remove_prefix(piece.size());
                        return true;
                      }) &&
         level.empty();
}

// The rule's filter with the client's values in it (subscriptions only: allocates).
std::string Expand(const Rule& rule, const ClientIdentity& who) {
  if (!rule.uses_username && !rule.uses_client_id) {
    return rule.filter;
  }
  std::string out;
  ForEachPiece(rule.filter, [&](std::string_view literal, char variable) {
    out += variable ? ValueOf(variable, who) : literal;
    return true;
  });
  return out;
}

// MQTT matching of a compiled rule against a topic name, walking the topic without splitting it.
bool RuleMatches(const Rule& rule, std::string_view topic, const ClientIdentity& who) {
  // Values never start with '$' (IsSafeValue), so only a literal first level reaches '$' topics.
  if (topic.starts_with('$') && rule.levels.front().kind != Level::Kind::kLiteral &&
      rule.levels.front().kind != Level::Kind::kTemplate) {
    return false;
  }
  size_t pos = 0;  // start of the topic's next level; topic.size() + 1 once all are used
  for (const Level& l : rule.levels) {
    if (l.kind == Level::Kind::kHash) {
      return true;  // this level and below, or none (the parent)
    }
    if (pos > topic.size()) {
      return false;
    }
    size_t end = topic.find('/', pos);
    if (end == std::string_view::npos) {
      end = topic.size();
    }
    const std::string_view level = topic.substr(pos, end - pos);
    switch (l.kind) {
      case Level::Kind::kLiteral:
        if (level != l.text) {
          return false;
        }
        break;
      case Level::Kind::kTemplate:
        if (!TemplateMatches(l.text, level, who)) {
          return false;
        }
        break;
      case Level::Kind::kPlus:
      case Level::Kind::kHash:
        break;
    }
    pos = end + 1;
  }
  return pos == topic.size() + 1;
}

bool ParseRule(std::string_view rest, bool is_pattern, bool* deny, Rule* rule,
               std::string* problem) {
  const size_t blank = rest.find_first_of(" \t");
  const std::string_view word = rest.substr(0, blank);
  std::string_view filter = rest;
  rule->access = Acl::kReadWrite;
  *deny = false;
  if (word == "read" || word == "write" || word == "readwrite" || word == "deny") {
    filter = blank == std::string_view::npos ? std::string_view() : TrimBlanks(rest.substr(blank));
    if (filter.empty()) {
      *problem = "a topic filter must follow '" + std::string(word) + "'";
      return false;
    }
    *deny = word == "deny";
    rule->access = word == "read" ? Acl::kRead : word == "write" ? Acl::kWrite : Acl::kReadWrite;
  }
  if (filter.empty()) {
    *problem = "missing topic filter";
    return false;
  }
  if (!IsValidFilter(filter)) {
    *problem = "invalid topic filter '" + std::string(filter) +
               "' ('+' and '#' fill a whole level, '#' only as the last)";
    return false;
  }
  rule->filter = std::string(filter);
  for (std::string_view l : SplitLevels(filter)) {
    Level level{Level::Kind::kLiteral, std::string(l)};
    if (l == "+") {
      level.kind = Level::Kind::kPlus;
    } else if (l == "#") {
      level.kind = Level::Kind::kHash;
    } else if (is_pattern) {
      const bool u = l.find("%u") != std::string_view::npos;
      const bool c = l.find("%c") != std::string_view::npos;
      rule->uses_username |= u;
      rule->uses_client_id |= c;
      if (u || c) {
        level.kind = Level::Kind::kTemplate;
      }
    }
    rule->levels.push_back(std::move(level));
  }
  return true;
}

}  // namespace

std::shared_ptr<const Acl> Acl::Parse(std::string_view text, std::string_view file_name,
                                      std::string* error) {
  auto acl = std::make_shared<Acl>();
  RuleSet* section = &acl->anonymous_;
  const bool ok = ForEachLine(text, [&](size_t line_number, std::string_view line) {
    if (line.empty() || line.front() == '#') {
      return true;
    }
    const size_t blank = line.find_first_of(" \t");
    const std::string_view keyword = line.substr(0, blank);
    const std::string_view rest =
        blank == std::string_view::npos ? std::string_view() : TrimBlanks(line.substr(blank));
    std::string problem;
    if (keyword == "user") {
      if (rest.empty()) {
        problem = "'user' needs a user name";
      } else {
        section = &acl->users_[std::string(rest)];  // a user named twice: rules add up
        return true;
      }
    } else if (keyword == "topic" || keyword == "pattern") {
      const bool is_pattern = keyword == "pattern";
      Rule rule;
      bool deny = false;
      if (ParseRule(rest, is_pattern, &deny, &rule, &problem)) {
        RuleSet& target = is_pattern ? acl->patterns_ : *section;
        (deny ? target.deny : target.allow).push_back(std::move(rule));
        ++acl->rule_count_;
        return true;
      }
    } else {
      problem =
          "unknown statement '" + std::string(keyword) + "' (expected user, topic or pattern)";
    }
    *error = LineError(file_name, line_number, problem);
    return false;
  });
  return ok ? acl : nullptr;
}

std::shared_ptr<const Acl> Acl::Load(const std::string& path, std::string* error) {
  std::string text;
  if (!ReadTextFile(path, &text, error)) {
    return nullptr;
  }
  return Parse(text, path, error);
}

const RuleSet* Acl::SectionOf(const ClientIdentity& who) const {
  if (!who.has_username) {
    return &anonymous_;
  }
  const auto it = users_.find(who.username);
  return it == users_.end() ? nullptr : &it->second;
}

bool Acl::MayPublish(const ClientIdentity& who, std::string_view topic) const {
  if (!IsValidTopicName(topic)) {
    return false;
  }
  const RuleSet* own = SectionOf(who);
  const Substitutions subs =
      patterns_.deny.empty() && patterns_.allow.empty() ? Substitutions{} : SubstitutionsOf(who);
  // 1. A matching deny rule decides (a deny pattern with an unsafe value denies everything).
  if (own != nullptr) {
    for (const Rule& r : own->deny) {
      if (RuleMatches(r, topic, who)) {
        return false;
      }
    }
  }
  for (const Rule& r : patterns_.deny) {
    const Fit fit = FitOf(r, subs);
    if (fit == Fit::kUnsafe || (fit == Fit::kApplies && RuleMatches(r, topic, who))) {
      return false;
    }
  }
  // 2. Otherwise any matching rule with write access allows.
  if (own != nullptr) {
    for (const Rule& r : own->allow) {
      if ((r.access & kWrite) != 0 && RuleMatches(r, topic, who)) {
        return true;
      }
    }
  }
  for (const Rule& r : patterns_.allow) {
    if ((r.access & kWrite) != 0 && FitOf(r, subs) == Fit::kApplies && RuleMatches(r, topic, who)) {
      return true;
    }
  }
  return false;
}

bool Acl::MaySubscribe(const ClientIdentity& who, std::string_view subscription) const {
  std::string_view filter;
  if (!SubscriptionFilter(subscription, &filter) || !IsValidFilter(filter)) {
    return false;
  }
  const RuleSet* own = SectionOf(who);
  const Substitutions subs = SubstitutionsOf(who);
  const RuleSet empty;
  const RuleSet& mine = own != nullptr ? *own : empty;
  // 1. Any deny rule that could match a topic the subscription receives refuses it.
  for (const RuleSet* set : {&mine, &patterns_}) {
    for (const Rule& r : set->deny) {
      const Fit fit = FitOf(r, subs);
      if (fit == Fit::kUnsafe || (fit == Fit::kApplies && FiltersOverlap(Expand(r, who), filter))) {
        return false;
      }
    }
  }
  // 2. Otherwise one read rule must match every topic the subscription can receive.
  for (const RuleSet* set : {&mine, &patterns_}) {
    for (const Rule& r : set->allow) {
      if ((r.access & kRead) != 0 && FitOf(r, subs) == Fit::kApplies &&
          FilterCovers(Expand(r, who), filter)) {
        return true;
      }
    }
  }
  return false;
}

namespace {
bool FirstLevelIsSys(std::string_view topic) {
  return topic == "$SYS" || topic.starts_with("$SYS/");
}
}  // namespace

bool Acl::DefaultMayPublish(std::string_view topic) {
  return !FirstLevelIsSys(topic);
}

bool Acl::DefaultMaySubscribe(std::string_view subscription) {
  std::string_view filter;
  return SubscriptionFilter(subscription, &filter) && !FirstLevelIsSys(filter);
}

}  // namespace ringmq::auth_file
