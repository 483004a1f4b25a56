// SqliteStore: the OfflineStore (persistence/offline_store.h) on SQLite in WAL mode.
//
// Threads. Each shard's writes go into that thread's own buffer (one short lock, which only
// the writer thread ever contends, once per batch); one writer thread takes every buffer,
// applies them in one transaction per batch (BatchWriter) and reports the tokens of the batch
// to the StoreListener once it committed. While one batch commits, the next gathers: the
// more the disk makes the broker wait, the larger the batches (group commit).
//
// Failures. A commit that fails (disk full, I/O error) is rolled back and tried again every
// retry_ms with everything that came since; its acknowledgements wait. Meanwhile Accepting()
// is false, so the broker refuses new messages that would need the store, and the writes it
// does take are state changes of messages already kept. When a retry commits, service resumes.
// The same holds, without an error, while the writes waiting for the disk exceed
// max_pending_bytes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"

#include "core/base/latency_histogram.h"
#include "core/base/mutex.h"
#include "persistence/offline_store.h"
#include "persistence/sqlite/store_op.h"
#include "persistence/sqlite/store_options.h"

namespace ringmq::persistence::sqlite {

class StoreFile;
class BatchWriter;

class SqliteStore final : public OfflineStore {
 public:
  // Opens (creates, checks, migrates) the store in options.data_dir. The writer thread starts
  // after Recover().
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const StoreOptions& options);
  ~SqliteStore() override;

  bool durable() const override { return true; }
  void SetListener(StoreListener* l) override { listener_ = l; }
  absl::Status Recover(RecoverySink& sink) override;
  bool Accepting() const override;
  StoreStats Stats() const override;
  void Close() override;
  const std::string& path() const;

  bool SessionUpdated(const SessionView& s, uint64_t token) override;
  bool SessionOffline(std::string_view client_id, uint64_t token) override;
  bool SessionEnded(std::string_view client_id, uint64_t token) override;
  bool WillSet(std::string_view client_id, const WillView* will, uint64_t token) override;
  bool SubscriptionAdded(std::string_view client_id, const SubscriptionView& sub,
                         uint64_t token) override;
  bool SubscriptionRemoved(std::string_view client_id, std::string_view filter,
                           uint64_t token) override;
  bool MessageQueued(std::string_view client_id, const DeliveryView& d, uint64_t token) override;
  bool MessageSent(std::string_view client_id, uint64_t seq, uint16_t packet_id, bool released,
                   uint64_t token) override;
  bool MessageDone(std::string_view client_id, uint64_t seq, uint64_t token) override;
  bool UnreleasedQos2Added(std::string_view client_id, uint16_t packet_id, uint64_t token) override;
  bool UnreleasedQos2Released(std::string_view client_id, uint16_t packet_id,
                              uint64_t token) override;
  bool RetainedSet(const MessageView& m, uint64_t token) override;

 private:
  // One producing thread's writes, in its order.
  struct Buffer {
    base::Mutex mu;
    std::vector<StoreOp> ops ABSL_GUARDED_BY(mu);
  };

  explicit SqliteStore(const StoreOptions& options);
  StoreOp& Begin(OpKind kind, std::string_view client, uint64_t token);  // then Push()
  bool Push(StoreOp&& op);
  Buffer& MyBuffer();
  void Run();
  bool Gather(std::vector<StoreOp>* batch);
  void WaitForWork(int64_t timeout_ms);
  void CommitAll(std::vector<StoreOp>* batch);

  const StoreOptions options_;
  const uint64_t serial_;  // tells this store's thread-local buffers from another's
  std::unique_ptr<StoreFile> file_;
  std::unique_ptr<BatchWriter> writer_;
  StoreListener* listener_ = nullptr;

  base::Mutex buffers_mu_;
  std::vector<std::unique_ptr<Buffer>> buffers_ ABSL_GUARDED_BY(buffers_mu_);

  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::atomic<bool> writer_sleeping_{false};
  std::atomic<uint64_t> queued_ops_{0};  // pushed, not yet taken by the writer
  std::atomic<bool> stopping_{false};
  std::thread thread_;

  std::atomic<uint64_t> pending_bytes_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> commits_{0}, operations_{0}, failed_commits_{0};
  std::atomic<uint64_t> last_commit_us_{0}, max_commit_us_{0};
  base::LatencyHistogram commit_latency_;  // written by the writer thread only
};

}  // namespace ringmq::persistence::sqlite
