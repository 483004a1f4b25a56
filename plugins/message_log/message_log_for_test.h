// Test hooks into message_log, for tests that link the plugin's code (the static library
// message_log_impl) and drive it through its C ABI. `global` is what global_init returned.
// Main (test) thread.
#pragma once

#include <cstdint>

namespace ringmq::message_log {

// Holds the writer thread: returns once it is parked, so queued lines stay queued.
void PauseWriterForTest(void* global);
void ResumeWriterForTest(void* global);
// Waits until `lines` lines in all reached the file (written, not only queued).
[[nodiscard]] bool WaitWrittenForTest(void* global, uint64_t lines, int timeout_ms);

}  // namespace ringmq::message_log
