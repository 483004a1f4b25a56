// libFuzzer target for auth_file's ACL file and topic filter algebra. Input:
// "FILTER_A\nFILTER_B\nACL TEXT...". Checks that parsing never crashes, that decisions never crash
// on any input, and the algebra's invariants:
//   FilterCovers(a, a); FiltersOverlap symmetric; a concrete topic t of b (wildcards filled in)
//   that b matches is matched by a whenever FilterCovers(a, b), and shows FiltersOverlap(a, b)
//   whenever a matches it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plugins/auth_file/acl.h"
#include "plugins/auth_file/topic_filter.h"

namespace {

using ringmq::auth_file::Acl;
using ringmq::auth_file::ClientIdentity;

std::string_view NextLine(std::string_view* in) {
  const size_t nl = in->find('\n');
  const std::string_view line = in->substr(0, nl);
  *in = nl == std::string_view::npos ? std::string_view() : in->substr(nl + 1);
  return line;
}

// A topic `filter` matches: '+' -> "x", '#' -> "x" (one level below the parent).
std::string ConcreteTopic(std::string_view filter) {
  std::string out;
  for (std::string_view l : ringmq::auth_file::SplitLevels(filter)) {
    out += (l == "+" || l == "#") ? std::string_view("x") : l;
    out += '/';
  }
  out.pop_back();
  return out;
}

void Invariant(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view a = NextLine(&in);
  const std::string_view b = NextLine(&in);
  using namespace ringmq::auth_file;
  if (IsValidFilter(a) && IsValidFilter(b)) {
    Invariant(FilterCovers(a, a));
    Invariant(FiltersOverlap(a, b) == FiltersOverlap(b, a));
    const std::string t = ConcreteTopic(b);
    if (IsValidTopicName(t) && FilterMatches(b, t)) {
      Invariant(!FilterCovers(a, b) || FilterMatches(a, t));
      Invariant(!FilterMatches(a, t) || FiltersOverlap(a, b));
    }
  }
  std::string error;
  const auto acl = Acl::Parse(in, "fuzz", &error);
  if (acl != nullptr) {
    for (const ClientIdentity& who :
         {ClientIdentity{true, a, b}, ClientIdentity{false, {}, a}, ClientIdentity{true, b, b}}) {
      (void)acl->MayPublish(who, a);
      (void)acl->MayPublish(who, b);
      (void)acl->MaySubscribe(who, a);
      (void)acl->MaySubscribe(who, b);
    }
  }
  return 0;
}
