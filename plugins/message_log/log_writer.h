// message_log's writer thread: drains every core's RecordRing, formats the records as JSON
// lines into a buffer, and writes the buffer to the log file (write(2) of up to
// kWriteChunkBytes; at least every flush_ms while lines come in). Rotates by size
// (file -> file.1 -> ... -> file.<rotate_keep>) and switches to a file opened by the main
// thread on reload. Only this thread touches the file; a slow disk slows only this thread,
// and the shards' rings fill and drop instead of waiting.
//
// Threads: the constructor, Start, Reopen, StopAndJoin and the *ForTest functions run on the
// main thread (or a test's); counters are read from any thread.
#pragma once

#include <pthread.h>
#include <ringmq/plugin.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "line_format.h"
#include "record_ring.h"

namespace ringmq::message_log {

struct FileSettings {
  std::string path;
  uint64_t rotate_bytes = 0;
  uint32_t rotate_keep = 5;
  uint32_t flush_ms = 100;
};

struct OpenFile {
  int fd = -1;
  uint64_t size_bytes = 0;
};

// Opens `path` for appending, creating it (mode 0640: lines may hold payloads). False with
// a message naming the file.
[[nodiscard]] bool OpenLogFile(const std::string& path, OpenFile* out, std::string* error);

class LogWriter {
 public:
  static constexpr size_t kWriteChunkBytes = 64 << 10;
  static constexpr size_t kBatchPerRing = 1024;  // records taken from one ring in a row

  // Takes the file. `rings` outlive the writer.
  LogWriter(const ringmq_host_api* host, std::vector<RecordRing*> rings, FileSettings settings,
            OpenFile file);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  [[nodiscard]] bool Start(std::string* error);
  // Writes everything queued, closes the file and ends the thread. The producers must have
  // stopped (after every core_fini).
  void StopAndJoin();
  // Hands the writer a newly opened file and settings (reload). Lines still buffered go to
  // the old file first. Returns once the writer switched, or after 2 s (a stuck disk).
  void Reopen(FileSettings settings, OpenFile file);

  Wakeup& wakeup() { return wakeup_; }
  uint64_t lines_written() const { return lines_written_.load(std::memory_order_acquire); }
  uint64_t lines_lost() const { return lines_lost_.load(std::memory_order_relaxed); }

  // Tests: hold the writer (returns once it is parked, taking nothing from the rings), let
  // it go, wait until `lines` lines in all were written to files.
  void PauseForTest();
  void ResumeForTest();
  [[nodiscard]] bool WaitWrittenForTest(uint64_t lines, int timeout_ms);

 private:
  static void* ThreadMain(void* self);
  void Run();
  size_t DrainRings();
  void AppendLine(const std::string& line);
  void Flush();
  void Rotate();
  void Switch(FileSettings settings, OpenFile file);
  void ReportError(const char* what, int err);

  const ringmq_host_api* const host_;
  const std::vector<RecordRing*> rings_;
  Wakeup wakeup_;

  // Writer thread only.
  FileSettings settings_;
  OpenFile file_;
  LineFormatter formatter_;
  std::string line_;
  std::string buffer_;
  uint64_t lines_in_buffer_ = 0;
  int64_t last_flush_ms_ = 0;
  int64_t last_error_log_ms_ = INT64_MIN / 2;
  uint64_t errors_since_log_ = 0;

  std::atomic<uint64_t> lines_written_{0};
  std::atomic<uint64_t> lines_lost_{0};  // write errors

  // Between the main thread and the writer; the shards never take mu_.
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                         // guarded by mu_
  bool pause_for_test_ = false;                               // guarded by mu_
  bool parked_ = false;                                       // guarded by mu_
  uint64_t switches_ = 0;                                     // guarded by mu_
  std::optional<std::pair<FileSettings, OpenFile>> pending_;  // guarded by mu_

  pthread_t thread_{};
  bool started_ = false;
};

}  // namespace ringmq::message_log
