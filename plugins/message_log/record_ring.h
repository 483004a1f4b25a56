// The bounded queue between one shard and message_log's writer thread: a single-producer,
// single-consumer ring of Records, one ring per core.
//
// Producer: the shard thread that owns the ring (its hooks; one core's hooks never overlap).
// Consumer: the writer thread. Nothing is locked: each side writes its own counters (head and
// bytes pushed / tail and bytes popped) and reads the other's. A hook never waits: when the
// ring holds `line_limit` records or `byte_limit` bytes the record is dropped and counted.
//
// Why one ring per core and not one shared queue behind a mutex: a mutex shared by all shards
// and the writer is a lock held by another thread, which a hook may not wait for (plugin.h);
// per-core rings keep the shards independent, and a client's messages (always on one core)
// stay in order. Lines of different cores interleave in the file in the order the writer
// drains them, each with its own time.
//
// Slots are reused: the writer clears a record's bytes but keeps their capacity (up to
// kKeptCapacityBytes), so steady traffic allocates nothing on the shard.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "settings.h"

namespace ringmq::message_log {

enum class Event : uint8_t { kPublished, kDelivered, kDropped };

// One message event, copied on the shard; the writer formats it.
struct Record {
  int64_t time_ms = 0;        // Unix time, milliseconds
  uint64_t payload_size = 0;  // the whole payload's size
  uint64_t queued_bytes = 0;  // what this record counts against max_queue_bytes
  uint32_t drop_reason = 0;   // RINGMQ_DROP_*, for Event::kDropped
  uint32_t client_id_len = 0;
  uint32_t username_len = 0;
  uint32_t topic_len = 0;
  Event event = Event::kPublished;
  PayloadMode payload_mode = PayloadMode::kNone;
  uint8_t qos = 0;
  bool retain = false;
  bool has_client = false;    // false for a message from host->publish without a client
  bool has_username = false;  // the CONNECT had a user name
  bool truncated = false;     // only payload_max bytes were kept
  // client id, user name, topic and the kept payload bytes, in this order.
  std::string bytes;

  std::string_view client_id() const { return {bytes.data(), client_id_len}; }
  std::string_view username() const { return {bytes.data() + client_id_len, username_len}; }
  std::string_view topic() const {
    return {bytes.data() + client_id_len + username_len, topic_len};
  }
  std::string_view payload() const {
    const size_t at = size_t{client_id_len} + username_len + topic_len;
    return {bytes.data() + at, bytes.size() - at};
  }
};

// Wakes the writer: a futex word that producers bump. Any thread.
class Wakeup {
 public:
  uint32_t Prepare() const { return seq_.load(std::memory_order_acquire); }
  void Wake() {
    seq_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, Word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
  // Writer thread: sleeps until Wake() after Prepare() returned `seen`, or timeout_ms.
  void Wait(uint32_t seen, uint32_t timeout_ms) {
    timespec ts{static_cast<time_t>(timeout_ms / 1000),
                static_cast<long>(timeout_ms % 1000) * 1'000'000};
    syscall(SYS_futex, Word(), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
  }

 private:
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
  uint32_t* Word() { return reinterpret_cast<uint32_t*>(&seq_); }
  std::atomic<uint32_t> seq_{0};
};

class RecordRing {
 public:
  static constexpr size_t kKeptCapacityBytes = 64 << 10;

  // capacity: rounded up to a power of two.
  explicit RecordRing(uint32_t capacity) {
    uint32_t n = 2;
    while (n < capacity) {
      n <<= 1;
    }
    slots_.resize(n);
    mask_ = n - 1;
  }
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  uint32_t capacity() const { return mask_ + 1; }

  // ---- producer (the owning shard's thread) ----

  // The next free slot for a record of `bytes`, or nullptr (counted as a drop) when the ring
  // already holds line_limit records or the record would take it past byte_limit bytes.
  Record* TryClaim(uint32_t line_limit, uint64_t byte_limit, uint64_t bytes) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t queued = head - tail_.load(std::memory_order_acquire);
    const uint64_t limit = line_limit < capacity() ? line_limit : capacity();
    const uint64_t queued_bytes = pushed_bytes_ - popped_bytes_.load(std::memory_order_acquire);
    if (queued >= limit || queued_bytes + bytes > byte_limit) {
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return nullptr;
    }
    Record* r = &slots_[head & mask_];
    r->queued_bytes = bytes;
    return r;
  }

  // Makes the claimed record visible to the writer. True when the writer should be woken:
  // the ring is at least half full and no wake-up is outstanding (otherwise the writer comes
  // by itself within flush_ms).
  [[nodiscard]] bool Publish(uint32_t line_limit, uint64_t byte_limit) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    pushed_bytes_ += slots_[head & mask_].queued_bytes;
    head_.store(head + 1, std::memory_order_release);
    const uint64_t queued = head + 1 - tail_.load(std::memory_order_acquire);
    const uint64_t queued_bytes = pushed_bytes_ - popped_bytes_.load(std::memory_order_acquire);
    if ((queued * 2 < line_limit && queued_bytes * 2 < byte_limit) ||
        wake_pending_.load(std::memory_order_relaxed)) {
      return false;
    }
    wake_pending_.store(true, std::memory_order_relaxed);
    return true;
  }

  // Lines dropped because the ring was full. Any thread.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // ---- consumer (the writer thread) ----

  // Calls fn(Record&) for up to `max` queued records, oldest first, then frees their slots.
  // Returns how many.
  template <typename Fn>
  size_t Consume(size_t max, Fn&& fn) {
    wake_pending_.store(false, std::memory_order_relaxed);
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    const uint64_t n = head - tail < max ? head - tail : max;
    uint64_t bytes = 0;
    for (uint64_t i = tail; i < tail + n; ++i) {
      Record& r = slots_[i & mask_];
      fn(r);
      bytes += r.queued_bytes;
      if (r.bytes.capacity() > kKeptCapacityBytes) {
        std::string().swap(r.bytes);
      } else {
        r.bytes.clear();
      }
    }
    popped_bytes_.store(popped_bytes_.load(std::memory_order_relaxed) + bytes,
                        std::memory_order_release);
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

 private:
  std::vector<Record> slots_;
  uint32_t mask_ = 0;
  uint64_t pushed_bytes_ = 0;  // producer only
  alignas(64) std::atomic<uint64_t> head_{0};
  std::atomic<uint64_t> dropped_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  std::atomic<uint64_t> popped_bytes_{0};
  alignas(64) std::atomic<bool> wake_pending_{false};
};

}  // namespace ringmq::message_log
