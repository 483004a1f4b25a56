// Text for people: client ids made printable, wall-clock times in ISO 8601, and columns that
// line up. Nothing here reads the store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringmq::tools::store {

// `bytes` with every byte outside printable ASCII, the space and the backslash written as
// \xHH, so that an id is one word on one line whatever the client sent.
std::string EscapeBytes(std::string_view bytes);

// Milliseconds since the epoch as 2024-05-01T12:00:00.123Z.
std::string IsoTimeMs(int64_t ms);

// Rows of cells printed in left-aligned columns two spaces apart; the first row is the header.
class Table {
 public:
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void Print() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace ringmq::tools::store
