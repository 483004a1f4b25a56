#include "core/base/flags_normalize.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ringmq::base {
namespace {

std::string Underscored(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

}  // namespace

NormalizedArgs::NormalizedArgs(int argc, char** argv,
                               std::initializer_list<std::string_view> merged) {
  // A merged list flag: its values so far, and the argument that will hold them.
  struct List {
    std::string name;
    std::string values;
    size_t at = 0;
  };
  std::vector<List> lists;
  for (std::string_view m : merged) {
    lists.push_back({Underscored(m), "", SIZE_MAX});
  }
  bool positional = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i == 0 || positional || a.size() <= 2 || !a.starts_with("--")) {
      positional = positional || (i > 0 && a == "--");
      args_.push_back(std::move(a));
      continue;
    }
    const size_t eq = a.find('=');
    const size_t name_end = eq == std::string::npos ? a.size() : eq;
    std::replace(a.begin() + 2, a.begin() + static_cast<std::ptrdiff_t>(name_end), '-', '_');
    const std::string_view name = std::string_view(a).substr(2, name_end - 2);
    auto list =
        std::find_if(lists.begin(), lists.end(), [&](const List& l) { return l.name == name; });
    // "--NAME" as the last argument has no value: left to Abseil to report.
    if (list == lists.end() || (eq == std::string::npos && i + 1 >= argc)) {
      args_.push_back(std::move(a));
      continue;
    }
    const std::string value = eq != std::string::npos ? a.substr(eq + 1) : std::string(argv[++i]);
    if (list->at == SIZE_MAX) {
      list->at = args_.size();
      list->values = value;
      args_.emplace_back();  // filled in below
    } else {
      list->values += "," + value;
    }
  }
  for (const List& l : lists) {
    if (l.at != SIZE_MAX) {
      args_[l.at] = "--" + l.name + "=" + l.values;
    }
  }
  for (std::string& s : args_) {
    argv_.push_back(s.data());
  }
  argv_.push_back(nullptr);
}

}  // namespace ringmq::base
