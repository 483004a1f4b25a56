// The broker's command-line flags and the config they make. Each flag but --config is a
// setting of core/config/settings.h (the table maps flag -> file key -> ServerConfig field):
//
//   1. Without --config, every flag sets its field (the flags' defaults are ServerConfig's).
//   2. With --config FILE, the file is read (core/config/config_file.h) and checked, then the
//      flags given on the command line are applied over it: a flag always wins over the file.
//   3. The result is checked again (ServerConfig::Validate), for the flags' values.
//
// Which flags were given is read from argv (Abseil 20220623 has no public "was this flag
// set" query). Main thread only.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "core/config/server_config.h"

namespace ringmq::server {

// Parses the command line (flag names may use dashes; --listen may repeat; see
// core/base/flags_normalize.h): the config per the steps above. Errors read
// "FILE:LINE: KEY: problem" (the file) or "FLAG: problem" (a flag). Call once.
absl::StatusOr<config::ServerConfig> ConfigFromCommandLine(int argc, char** argv);

// For a reload (SIGHUP): the --config file read again and the same command-line flags over
// it; without --config, the flags alone. After ConfigFromCommandLine.
absl::StatusOr<config::ServerConfig> ReloadConfig();

// The names of the flags on a normalized command line ("--max_inflight=5", "--nopin_threads",
// "--listen 127.0.0.1:0"), as Abseil names them, in order; only flags that exist.
std::vector<std::string> FlagsGiven(const std::vector<std::string>& args);

// Sets the fields of the named flags (those with a setting; others are skipped) in *config
// from the flags' current values.
absl::Status ApplyFlags(const std::vector<std::string>& flags, config::ServerConfig* config);

}  // namespace ringmq::server
