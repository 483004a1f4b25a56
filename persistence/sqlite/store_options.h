// The SQLite store's options (flags of the broker, see docs/configuration.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringmq::persistence::sqlite {

struct StoreOptions {
  std::string data_dir = "data";  // created if missing; holds ringmq.db and its WAL
  // synchronous=FULL: every commit reaches the disk before acknowledgements go out
  // (survives power loss). NORMAL: a commit is in the WAL file, synced at checkpoints
  // (survives a crash of the process, not of the machine).
  bool sync_full = false;
  size_t batch_max_ops = 50'000;              // writes in one transaction at most
  uint64_t max_pending_bytes = 256ull << 20;  // writes waiting for the disk, beyond which
                                              // new messages are refused
  uint32_t retry_ms = 500;                    // after a failed commit (disk full, I/O error)
  bool full_check = false;                    // integrity_check instead of quick_check at start
};

inline constexpr const char* kStoreFileName = "ringmq.db";
inline constexpr const char* kLockFileName = "lock";

}  // namespace ringmq::persistence::sqlite
