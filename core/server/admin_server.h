// AdminServer: the admin HTTP listener (--admin-listen): GET /metrics (Prometheus text,
// metrics_text.h), /healthz and /readyz (health.h). It runs on a thread of its own with
// poll(2), off the shards' paths: it reads their counters (relaxed loads, stats.h) and
// never sends them anything, so a slow or stalled scraper cannot stall a shard.
//
// Bounds: kMaxClients connections at once (more are closed on accept), a request head of
// kMaxRequestHeadBytes, kClientTimeoutMs for a connection to send its request and take the
// answer (then it is closed), one request per connection (Connection: close). Only GET;
// unknown paths 404, other methods 405.
//
// Threads: Start and the destructor on the main thread; SetPlugins and SetReady on any.
#pragma once

#include <poll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

#include "core/net/socket_ops.h"
#include "core/server/admin_http.h"

namespace ringmq::broker {
struct BrokerShared;
}  // namespace ringmq::broker
namespace ringmq::plugin {
class PluginHost;
}  // namespace ringmq::plugin

namespace ringmq::server {

class AdminServer {
 public:
  static constexpr size_t kMaxClients = 8;
  static constexpr int64_t kClientTimeoutMs = 5000;

  // Listens on `at` and starts the thread. `shared` (its counters made) outlives the server.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const net::Endpoint& at,
                                                            const broker::BrokerShared* shared);
  ~AdminServer();  // stops the thread, closes every socket

  const net::Endpoint& bound() const { return bound_; }
  // /metrics counts the calls of these plugins from now on (every one added); `plugins`
  // outlives the server.
  void SetPlugins(const plugin::PluginHost* plugins) {
    plugins_.store(plugins, std::memory_order_release);
  }
  // /readyz answers 200 from now on.
  void SetReady() { ready_.store(true, std::memory_order_relaxed); }

 private:
  struct Client {
    int fd = -1;
    std::string received;
    std::string answer;  // non-empty: the request was read, this is being written
    size_t sent = 0;
    int64_t deadline_ms = 0;
  };

  AdminServer(int listen_fd, int wake_fd, net::Endpoint bound, const broker::BrokerShared* shared);
  void Run();
  // Reads from or writes to the clients that have events (events[i] is clients_[i]'s);
  // closes those done or past their deadline.
  void ServeClients(std::span<const pollfd> events);
  void AcceptAll();
  // false: the client is done (answered, failed or timed out) and must be closed.
  bool ReadFrom(Client& c);
  bool WriteTo(Client& c);
  Response Answer(const RequestHead& head) const;
  Response Route(std::string_view path) const;

  const int listen_fd_;
  const int wake_fd_;
  const net::Endpoint bound_;
  const broker::BrokerShared* const shared_;
  std::atomic<const plugin::PluginHost*> plugins_{nullptr};
  std::atomic<bool> ready_{false};
  static constexpr int64_t kAcceptPauseMs = 100;

  std::vector<Client> clients_;   // the admin thread's
  int64_t accept_resume_ms_ = 0;  // the admin thread's: accept again from then on
  std::thread thread_;
};

}  // namespace ringmq::server
