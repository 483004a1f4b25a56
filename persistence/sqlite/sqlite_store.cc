#include "persistence/sqlite/sqlite_store.h"

#include <algorithm>

#include "absl/strings/str_format.h"

#include "core/base/clock.h"
#include "core/base/log.h"
#include "persistence/sqlite/batch_writer.h"
#include "persistence/sqlite/store_file.h"
#include "persistence/sqlite/wall_clock.h"

namespace ringmq::persistence::sqlite {
namespace {

std::atomic<uint64_t> next_serial{1};

// The calling thread's buffer in the store with that serial (a thread writes to one store).
struct ThreadBuffer {
  uint64_t serial = 0;
  void* buffer = nullptr;
};
thread_local ThreadBuffer my_buffer;

uint8_t PackOptions(const mqtt::SubscriptionOptions& o) {
  return static_cast<uint8_t>(static_cast<uint8_t>(o.max_qos) | (o.no_local ? 4 : 0) |
                              (o.retain_as_published ? 8 : 0) |
                              (static_cast<uint8_t>(o.retain_handling) << 4));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const StoreOptions& options) {
  std::unique_ptr<SqliteStore> s(new SqliteStore(options));
  absl::StatusOr<std::unique_ptr<StoreFile>> file = StoreFile::Open(options);
  if (!file.ok()) {
    return file.status();
  }
  s->file_ = std::move(*file);
  s->writer_ = std::make_unique<BatchWriter>(s->file_->db());
  if (absl::Status w = s->writer_->Init(); !w.ok()) {
    return absl::InternalError(absl::StrFormat("store %s: %s", s->path(), w.message()));
  }
  return s;
}

SqliteStore::SqliteStore(const StoreOptions& options)
    : options_(options), serial_(next_serial.fetch_add(1)) {}

SqliteStore::~SqliteStore() {
  Close();
}

const std::string& SqliteStore::path() const {
  return file_->path();
}

void SqliteStore::Close() {
  if (!thread_.joinable()) {
    return;
  }
  stopping_.store(true);
  {
    std::lock_guard<std::mutex> l(wake_mu_);
    wake_.notify_one();
  }
  thread_.join();
}

bool SqliteStore::Accepting() const {
  return healthy_.load(std::memory_order_relaxed) &&
         pending_bytes_.load(std::memory_order_relaxed) < options_.max_pending_bytes;
}

StoreStats SqliteStore::Stats() const {
  StoreStats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.operations = operations_.load(std::memory_order_relaxed);
  s.failed_commits = failed_commits_.load(std::memory_order_relaxed);
  s.pending_bytes = pending_bytes_.load(std::memory_order_relaxed);
  s.last_commit_us = last_commit_us_.load(std::memory_order_relaxed);
  s.max_commit_us = max_commit_us_.load(std::memory_order_relaxed);
  s.commit_latency = commit_latency_.Snapshot();
  s.accepting = Accepting();
  return s;
}

// ---- the shards' side ----------------------------------------------------------------------

SqliteStore::Buffer& SqliteStore::MyBuffer() {
  if (my_buffer.serial != serial_) {
    auto b = std::make_unique<Buffer>();
    my_buffer = {serial_, b.get()};
    base::MutexLock l(&buffers_mu_);
    buffers_.push_back(std::move(b));
  }
  return *static_cast<Buffer*>(my_buffer.buffer);
}

bool SqliteStore::Push(StoreOp&& op) {
  pending_bytes_.fetch_add(op.bytes(), std::memory_order_relaxed);
  Buffer& b = MyBuffer();
  {
    base::MutexLock l(&b.mu);
    b.ops.push_back(std::move(op));
  }
  // Seen by the writer before it sleeps, or it sees the flag below (both sequentially
  // consistent): a push never waits for the writer's timeout.
  queued_ops_.fetch_add(1);
  if (writer_sleeping_.load()) {
    std::lock_guard<std::mutex> l(wake_mu_);
    wake_.notify_one();
  }
  return true;
}

bool SqliteStore::SessionUpdated(const SessionView& s, uint64_t token) {
  StoreOp op{.kind = OpKind::kSession, .client = std::string(s.client_id)};
  op.version = static_cast<uint8_t>(s.version);
  op.number = s.expiry_s;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::SessionOffline(std::string_view client_id, uint64_t token) {
  StoreOp op{.kind = OpKind::kSessionOffline, .client = std::string(client_id)};
  op.time_ms = WallMs();
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::SessionEnded(std::string_view client_id, uint64_t token) {
  StoreOp op{.kind = OpKind::kSessionEnded, .client = std::string(client_id)};
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::WillSet(std::string_view client_id, const WillView* will, uint64_t token) {
  StoreOp op{.kind = will == nullptr ? OpKind::kWillCleared : OpKind::kWill,
             .client = std::string(client_id)};
  op.token = token;
  if (will != nullptr) {
    op.topic = will->topic;
    op.payload = will->payload;
    op.props = will->properties;
    op.qos = static_cast<uint8_t>(will->qos);
    op.retain = will->retain;
    op.number = will->delay_s;
    op.will_expiry_s = will->message_expiry_s;
    op.flag = will->has_message_expiry;
  }
  return Push(std::move(op));
}

bool SqliteStore::SubscriptionAdded(std::string_view client_id, const SubscriptionView& sub,
                                    uint64_t token) {
  StoreOp op{.kind = OpKind::kSubscribe, .client = std::string(client_id)};
  op.topic = sub.filter;
  op.options = PackOptions(sub.options);
  op.number = sub.subscription_id;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::SubscriptionRemoved(std::string_view client_id, std::string_view filter,
                                      uint64_t token) {
  StoreOp op{.kind = OpKind::kUnsubscribe, .client = std::string(client_id)};
  op.topic = filter;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::MessageQueued(std::string_view client_id, const DeliveryView& d, uint64_t token) {
  StoreOp op{.kind = OpKind::kQueued, .client = std::string(client_id)};
  op.seq = d.seq;
  op.message_id = d.message.id;
  op.topic = d.message.topic;
  op.payload = d.message.payload;
  op.props = d.message.properties;
  op.message_qos = static_cast<uint8_t>(d.message.qos);
  op.message_retain = d.message.retain;
  op.expiry_ms = DeadlineToWall(d.message.expiry_deadline_ms);
  op.qos = static_cast<uint8_t>(d.qos);
  op.retain = d.retain;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::MessageSent(std::string_view client_id, uint64_t seq, uint16_t packet_id,
                              bool released, uint64_t token) {
  StoreOp op{.kind = OpKind::kSent, .client = std::string(client_id)};
  op.seq = seq;
  op.packet_id = packet_id;
  op.flag = released;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::MessageDone(std::string_view client_id, uint64_t seq, uint64_t token) {
  StoreOp op{.kind = OpKind::kDone, .client = std::string(client_id)};
  op.seq = seq;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::UnreleasedQos2Added(std::string_view client_id, uint16_t packet_id,
                                      uint64_t token) {
  StoreOp op{.kind = OpKind::kUnreleasedAdd, .client = std::string(client_id)};
  op.packet_id = packet_id;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::UnreleasedQos2Released(std::string_view client_id, uint16_t packet_id,
                                         uint64_t token) {
  StoreOp op{.kind = OpKind::kUnreleasedDel, .client = std::string(client_id)};
  op.packet_id = packet_id;
  op.token = token;
  return Push(std::move(op));
}

bool SqliteStore::RetainedSet(const MessageView& m, uint64_t token) {
  StoreOp op{.kind = OpKind::kRetained};
  op.topic = m.topic;
  op.payload = m.payload;
  op.props = m.properties;
  op.qos = static_cast<uint8_t>(m.qos);
  op.expiry_ms = DeadlineToWall(m.expiry_deadline_ms);
  op.token = token;
  return Push(std::move(op));
}

// ---- the writer thread ---------------------------------------------------------------------

bool SqliteStore::Gather(std::vector<StoreOp>* batch) {
  std::vector<Buffer*> all;
  {
    base::MutexLock l(&buffers_mu_);
    for (auto& b : buffers_) {
      all.push_back(b.get());
    }
  }
  // Each buffer keeps its own order, which is all that matters: a session, a retained topic
  // and a message's copies on one shard are written by that one shard.
  size_t taken = 0;
  std::vector<StoreOp> ops;
  for (Buffer* b : all) {
    {
      base::MutexLock l(&b->mu);
      ops.swap(b->ops);
    }
    taken += ops.size();
    std::move(ops.begin(), ops.end(), std::back_inserter(*batch));
    ops.clear();
  }
  queued_ops_.fetch_sub(taken);
  return taken > 0;
}

void SqliteStore::WaitForWork(int64_t timeout_ms) {
  std::unique_lock<std::mutex> l(wake_mu_);
  writer_sleeping_.store(true);
  if (queued_ops_.load() == 0 && !stopping_.load()) {
    wake_.wait_for(l, std::chrono::milliseconds(timeout_ms));
  }
  writer_sleeping_.store(false);
}

void SqliteStore::CommitAll(std::vector<StoreOp>* batch) {
  size_t done = 0;
  while (done < batch->size()) {
    const size_t n = std::min(batch->size() - done, options_.batch_max_ops);
    const std::span<const StoreOp> chunk(batch->data() + done, n);
    const int64_t start = base::MonotonicNs();
    const absl::Status s = writer_->Commit(chunk, WallMs());
    const uint64_t took_us = static_cast<uint64_t>(base::MonotonicNs() - start) / 1000;
    if (!s.ok()) {
      failed_commits_.fetch_add(1, std::memory_order_relaxed);
      if (healthy_.exchange(false)) {
        RINGMQ_LOG(kError,
                   "store %s: %s; refusing new messages that need the store until a commit "
                   "succeeds (retrying every %d ms)",
                   path(), s.message(), options_.retry_ms);
      }
      break;  // the rest waits, in order, for the retry
    }
    if (!healthy_.exchange(true)) {
      RINGMQ_LOG(kWarning, "store %s: writes resumed after %d failed commits", path(),
                 failed_commits_.load());
    }
    uint64_t bytes = 0;
    for (const StoreOp& op : chunk) {
      bytes += op.bytes();
      if (op.token != 0 && listener_ != nullptr) {
        listener_->OnStoreCommitted(op.token);
      }
    }
    pending_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    operations_.fetch_add(n, std::memory_order_relaxed);
    last_commit_us_.store(took_us, std::memory_order_relaxed);
    commit_latency_.Record(took_us);
    if (took_us > max_commit_us_.load(std::memory_order_relaxed)) {
      max_commit_us_.store(took_us, std::memory_order_relaxed);
    }
    done += n;
  }
  batch->erase(batch->begin(), batch->begin() + static_cast<ptrdiff_t>(done));
}

void SqliteStore::Run() {
  std::vector<StoreOp> batch;  // what is not committed yet, in order
  for (;;) {
    Gather(&batch);
    if (batch.empty()) {
      if (stopping_.load()) {
        return;
      }
      writer_->Idle();
      WaitForWork(1000);
      continue;
    }
    CommitAll(&batch);
    if (batch.empty()) {
      continue;
    }
    if (stopping_.load()) {
      // The disk still refuses: what is left was never acknowledged; say how much.
      RINGMQ_LOG(kError, "store %s: stopping with %d writes that could not be committed", path(),
                 batch.size());
      return;
    }
    // The disk refused: try again later (with what comes meanwhile), not in a busy loop.
    std::unique_lock<std::mutex> l(wake_mu_);
    wake_.wait_for(l, std::chrono::milliseconds(options_.retry_ms),
                   [this] { return stopping_.load(); });
  }
}

}  // namespace ringmq::persistence::sqlite
