#include "log_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace ringmq::message_log {
namespace {

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

constexpr int64_t kErrorLogIntervalMs = 10'000;

}  // namespace

bool OpenLogFile(const std::string& path, OpenFile* out, std::string* error) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = "cannot open '" + path + "' for appending: " + strerror(errno);
    return false;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    // A FIFO or a device has no size to rotate by; refuse rather than misbehave.
    *error = "'" + path + "' is not a regular file";
    close(fd);
    return false;
  }
  out->fd = fd;
  out->size_bytes = static_cast<uint64_t>(st.st_size);
  return true;
}

LogWriter::LogWriter(const ringmq_host_api* host, std::vector<RecordRing*> rings,
                     FileSettings settings, OpenFile file)
    : host_(host), rings_(std::move(rings)), settings_(std::move(settings)), file_(file) {
  buffer_.reserve(kWriteChunkBytes + 4096);
}

LogWriter::~LogWriter() {
  StopAndJoin();
  if (file_.fd >= 0) {
    close(file_.fd);
  }
  if (pending_ && pending_->second.fd >= 0) {
    close(pending_->second.fd);
  }
}

bool LogWriter::Start(std::string* error) {
  const int rc = pthread_create(&thread_, nullptr, &LogWriter::ThreadMain, this);
  if (rc != 0) {
    *error = std::string("cannot start the writer thread: ") + strerror(rc);
    return false;
  }
  pthread_setname_np(thread_, "message_log");
  started_ = true;
  return true;
}

void LogWriter::StopAndJoin() {
  if (!started_) {
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  wakeup_.Wake();
  pthread_join(thread_, nullptr);
  started_ = false;
}

void LogWriter::Reopen(FileSettings settings, OpenFile file) {
  std::unique_lock<std::mutex> lock(mu_);
  if (pending_ && pending_->second.fd >= 0) {
    close(pending_->second.fd);  // an earlier reload the writer has not taken yet
  }
  pending_.emplace(std::move(settings), file);
  const uint64_t target = switches_ + 1;
  wakeup_.Wake();
  if (!started_) {
    return;
  }
  cv_.wait_for(lock, std::chrono::seconds(2), [&] { return switches_ >= target; });
}

void LogWriter::PauseForTest() {
  std::unique_lock<std::mutex> lock(mu_);
  pause_for_test_ = true;
  wakeup_.Wake();
  cv_.wait(lock, [&] { return parked_; });
}

void LogWriter::ResumeForTest() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pause_for_test_ = false;
  }
  cv_.notify_all();
}

bool LogWriter::WaitWrittenForTest(uint64_t lines, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return lines_written() >= lines; });
}

void* LogWriter::ThreadMain(void* self) {
  // Signals (SIGHUP for reload, SIGTERM) are the main thread's business.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  static_cast<LogWriter*>(self)->Run();
  return nullptr;
}

void LogWriter::Run() {
  last_flush_ms_ = MonotonicMs();
  while (true) {
    // 1. Read the wake-up word before looking for work, so a Wake() after the look (a ring
    //    half full, a reload, a stop) makes the Wait() at the end return at once.
    const uint32_t seen = wakeup_.Prepare();
    bool stopping = false;
    std::optional<std::pair<FileSettings, OpenFile>> pending;
    {
      std::unique_lock<std::mutex> lock(mu_);
      pending.swap(pending_);
      while (pause_for_test_ && !stop_) {
        parked_ = true;
        cv_.notify_all();
        cv_.wait(lock);
      }
      parked_ = false;
      stopping = stop_;
    }
    // 2. A reload: what is buffered belongs to the old file.
    if (pending) {
      Flush();
      Switch(std::move(pending->first), pending->second);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++switches_;
      }
      cv_.notify_all();
    }
    // 3. Take what the shards queued; write when a chunk is full or flush_ms passed.
    const size_t taken = DrainRings();
    if (taken > 0) {
      if (MonotonicMs() - last_flush_ms_ >= settings_.flush_ms) {
        Flush();
      }
      continue;
    }
    // 4. Nothing queued: write what is buffered, then sleep until woken or flush_ms.
    Flush();
    if (stopping) {
      break;  // the producers stopped before StopAndJoin, and the rings are empty
    }
    wakeup_.Wait(seen, settings_.flush_ms);
  }
}

size_t LogWriter::DrainRings() {
  size_t taken = 0;
  for (RecordRing* ring : rings_) {
    taken += ring->Consume(kBatchPerRing, [&](const Record& r) {
      line_.clear();
      formatter_.Append(r, &line_);
      AppendLine(line_);
    });
  }
  return taken;
}

void LogWriter::AppendLine(const std::string& line) {
  // A line never straddles two files: when it would take the file past rotate_bytes, the
  // file is rotated first (a line longer than rotate_bytes gets a file of its own).
  const uint64_t size = file_.size_bytes + buffer_.size();
  if (settings_.rotate_bytes > 0 && size > 0 && size + line.size() > settings_.rotate_bytes) {
    Flush();
    Rotate();
  }
  buffer_.append(line);
  ++lines_in_buffer_;
  if (buffer_.size() >= kWriteChunkBytes) {
    Flush();
  }
}

void LogWriter::Flush() {
  last_flush_ms_ = MonotonicMs();
  if (buffer_.empty()) {
    return;
  }
  size_t done = 0;
  while (done < buffer_.size()) {
    const ssize_t n = write(file_.fd, buffer_.data() + done, buffer_.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      // Disk full, I/O error: the lines not written in full are lost, counted as dropped.
      const int err = n < 0 ? errno : EIO;
      const auto lost = static_cast<uint64_t>(
          std::count(buffer_.begin() + static_cast<std::ptrdiff_t>(done), buffer_.end(), '\n'));
      lines_lost_.fetch_add(lost, std::memory_order_relaxed);
      lines_in_buffer_ -= lost;
      ReportError("write", err);
      break;
    }
    done += static_cast<size_t>(n);
  }
  file_.size_bytes += done;
  {
    std::lock_guard<std::mutex> lock(mu_);  // so WaitWrittenForTest cannot miss the notify
    lines_written_.fetch_add(lines_in_buffer_, std::memory_order_release);
  }
  cv_.notify_all();
  buffer_.clear();
  lines_in_buffer_ = 0;
}

void LogWriter::Rotate() {
  const std::string& path = settings_.path;
  // file.<keep-1> -> file.<keep>, ..., file.1 -> file.2, then file -> file.1 (the oldest,
  // file.<keep>, is replaced). A missing file in the chain is fine.
  for (uint32_t k = settings_.rotate_keep; k > 1; --k) {
    const std::string from = path + "." + std::to_string(k - 1);
    const std::string to = path + "." + std::to_string(k);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      ReportError("rename", errno);
    }
  }
  if (rename(path.c_str(), (path + ".1").c_str()) != 0 && errno != ENOENT) {
    ReportError("rename", errno);
  }
  OpenFile fresh;
  std::string error;
  if (!OpenLogFile(path, &fresh, &error)) {
    // Keep writing to the old file (now file.1), and try again after another rotate_bytes.
    ReportError("open", errno);
    file_.size_bytes = 0;
    return;
  }
  close(file_.fd);
  file_ = fresh;
}

void LogWriter::Switch(FileSettings settings, OpenFile file) {
  close(file_.fd);
  file_ = file;
  settings_ = std::move(settings);
}

void LogWriter::ReportError(const char* what, int err) {
  ++errors_since_log_;
  const int64_t now = MonotonicMs();
  if (now - last_error_log_ms_ < kErrorLogIntervalMs) {
    return;
  }
  char text[512];
  snprintf(text, sizeof(text), "%s %s failed: %s (%llu such errors since the last report)", what,
           settings_.path.c_str(), strerror(err),
           static_cast<unsigned long long>(errors_since_log_));
  host_->log(host_, RINGMQ_LOG_ERROR, ringmq_str_of(text));
  errors_since_log_ = 0;
  last_error_log_ms_ = now;
}

}  // namespace ringmq::message_log
