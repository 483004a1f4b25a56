// The one check behind every numeric setting: a value outside its range is an error that
// names the setting and the range, e.g. "max-inflight: 70000 is outside 1..65535".
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace ringmq::base {

inline absl::Status CheckRange(std::string_view name, uint64_t value, uint64_t min, uint64_t max) {
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %d is outside %d..%d", name, value, min, max));
  }
  return absl::OkStatus();
}

}  // namespace ringmq::base
