// Command-line arguments rewritten into what Abseil's flag parser accepts, for the programs
// that take flags (the broker, the load tool). Main thread, before absl::ParseCommandLine.
//
//   1. Flag names may be written with dashes: "--max-keepalive=5" and "--max-keepalive 5"
//      become "--max_keepalive=5" and "--max_keepalive 5" (Abseil flags are C identifiers).
//      Only the name changes, never a value.
//   2. A list flag named in `merged` may be repeated: every "--NAME V" and "--NAME=V" is
//      folded into one "--NAME=V1,V2,..." where the first one stood (Abseil would keep only
//      the last).
//   3. argv[0] and everything after a bare "--" (positional arguments) are left alone.
//
//   ringmq::base::NormalizedArgs args(argc, argv, {"listen"});
//   absl::ParseCommandLine(args.argc(), args.argv());
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ringmq::base {

class NormalizedArgs {
 public:
  NormalizedArgs(int argc, char** argv, std::initializer_list<std::string_view> merged = {});
  // argv() points into this object: it must outlive the parse (and whatever keeps pointers
  // to positional arguments from it).
  NormalizedArgs(const NormalizedArgs&) = delete;
  NormalizedArgs& operator=(const NormalizedArgs&) = delete;

  int argc() const { return static_cast<int>(args_.size()); }
  // argc() pointers, then nullptr, as main()'s argv.
  char** argv() { return argv_.data(); }
  const std::vector<std::string>& args() const { return args_; }

 private:
  std::vector<std::string> args_;
  std::vector<char*> argv_;
};

}  // namespace ringmq::base
