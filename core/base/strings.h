// Bridges between std::string_view and Abseil. Debian 12's Abseil is built with
// ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is a distinct type and functions
// taking it (StrCat, SimpleAtoi, StrSplit, ...) do not accept std::string_view directly.
// absl::StrFormat does accept std::string_view (%s). Any thread.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace ringmq::base {

inline absl::string_view ToAbsl(std::string_view s) {
  return {s.data(), s.size()};
}
inline std::string_view FromAbsl(absl::string_view s) {
  return {s.data(), s.size()};
}

}  // namespace ringmq::base
