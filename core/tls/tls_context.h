// TlsContext: one TLS listener's OpenSSL context (SSL_CTX) built from its TlsSettings, and
// the counters of its handshakes. Shards take a new SSL per accepted connection from it
// (NewSession, any thread); Reload (main thread, on SIGHUP) reads the certificate, key and CA
// files again and swaps in a new SSL_CTX: handshakes that start afterwards use it, the
// connections made before keep theirs (an SSL holds a reference to its SSL_CTX). A reload that
// fails keeps the running context and says why.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "core/tls/tls_settings.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace ringmq::tls {

// Written by the shards (relaxed, a handshake at a time), read for $SYS and metrics.
struct TlsCounters {
  std::atomic<uint64_t> handshakes{0};             // completed
  std::atomic<uint64_t> handshake_failures{0};     // refused: not TLS, bad certificate, protocol
  std::atomic<uint64_t> handshakes_unfinished{0};  // closed before the handshake ended
  std::atomic<uint64_t> reloads{0};

  static void Add(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

enum class Role : uint8_t { kServer, kClient };

class TlsContext {
 public:
  // Reads the files of `settings` (checked by CheckTlsSettings first); the message names
  // `name` (the listener) and the file that could not be used.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(std::string name,
                                                            const TlsSettings& settings,
                                                            Role role = Role::kServer);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // A new SSL for one connection, in the role of the context; nullptr when OpenSSL has no
  // memory. Any thread.
  SSL* NewSession();
  // Reads the certificate, key and CA again (same paths). Main thread.
  absl::Status Reload();

  const std::string& name() const { return name_; }
  const TlsSettings& settings() const { return settings_; }
  TlsCounters& counters() { return counters_; }

 private:
  TlsContext(std::string name, const TlsSettings& settings, Role role)
      : name_(std::move(name)), settings_(settings), role_(role) {}

  const std::string name_;
  const TlsSettings settings_;
  const Role role_;
  TlsCounters counters_;
  absl::Mutex mu_;
  SSL_CTX* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;  // held only to take an SSL from it
};

// The last OpenSSL errors of this thread, as one line (and the queue emptied).
std::string TakeOpenSslErrors();

}  // namespace ringmq::tls
