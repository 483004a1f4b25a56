#include "core/server/transports.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"

#include "core/base/log.h"
#include "core/net/stacked_transport.h"
#include "core/plugin/host_api.h"
#include "core/tls/ktls_probe.h"
#include "core/tls/tls_transport.h"

namespace ringmq::server {
namespace {

// The plugin that serves `protocol`, loading the one named like it when none does yet.
absl::StatusOr<int> ServerOf(const std::string& protocol, plugin::PluginHost& plugins) {
  int server = plugins.TransportServer(protocol);
  if (server >= 0) {
    return server;
  }
  if (protocol == "websocket") {
    if (absl::Status s = plugins.Add("websocket", "", {}); !s.ok()) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "the websocket plugin serves ws:// listeners and could not be loaded: %s", s.message()));
    }
    server = plugins.TransportServer(protocol);
  }
  if (server < 0) {
    return absl::FailedPreconditionError(
        absl::StrFormat("no loaded plugin serves protocol '%s'", protocol));
  }
  return server;
}

// kTLS is asked for with ktls = "auto"; say once whether this kernel has it.
void ReportKtls(const std::vector<config::Listener>& listeners) {
  for (const config::Listener& l : listeners) {
    if (l.tls && l.tls_settings.ktls == "auto") {
      const tls::KtlsProbe probe = tls::ProbeKtls();
      RINGMQ_LOG(kInfo, "kTLS: %s",
                 probe.available
                     ? "the kernel offers it; ringmq still processes TLS records itself"
                     : absl::StrFormat("not offered by this kernel (%s); TLS records are "
                                       "processed on the shards",
                                       probe.why));
      return;
    }
  }
}

}  // namespace

absl::Status ListenerTransports::Serve(const std::vector<config::Listener>& listeners,
                                       plugin::PluginHost& plugins, broker::BrokerShared* shared) {
  std::vector<int> server_of_listener(listeners.size(), -1);  // -1: no plugin transport
  tls_.clear();
  tls_.resize(listeners.size());
  bool any = false;
  for (size_t id = 0; id < listeners.size(); ++id) {
    const config::Listener& l = listeners[id];
    // Listeners on port 0 share the configured address: the index tells them apart (the
    // "listening" lines come in the same order).
    const std::string name =
        absl::StrFormat("listener %d (%s %s)", id, l.Name(), l.endpoint.ToString());
    if (l.tls) {
      absl::StatusOr<std::unique_ptr<tls::TlsContext>> c =
          tls::TlsContext::Create(name, l.tls_settings);
      if (!c.ok()) {
        return c.status();
      }
      tls_[id] = *std::move(c);
      any = true;
    }
    if (l.protocol != "mqtt") {
      absl::StatusOr<int> server = ServerOf(l.protocol, plugins);
      if (!server.ok()) {
        return absl::FailedPreconditionError(
            absl::StrFormat("%s: %s", name, server.status().message()));
      }
      server_of_listener[id] = *server;
      any = true;
    }
  }
  if (!any) {
    return absl::OkStatus();
  }
  ReportKtls(listeners);
  has_tls_.store(std::any_of(tls_.begin(), tls_.end(), [](const auto& c) { return c != nullptr; }),
                 std::memory_order_release);
  std::vector<tls::TlsContext*> tls_of_listener;
  for (const auto& c : tls_) {
    tls_of_listener.push_back(c.get());
  }
  shared->attach_transport = [&plugins, server_of_listener, tls_of_listener](uint32_t shard,
                                                                             net::Conn& c) {
    const uint32_t id = c.listener_id();
    if (id >= server_of_listener.size()) {
      return true;  // plain MQTT
    }
    std::unique_ptr<net::Transport> inner;
    if (server_of_listener[id] >= 0) {
      inner = plugins.OpenTransport(static_cast<size_t>(server_of_listener[id]), shard, id, c);
      if (inner == nullptr) {
        return false;
      }
    }
    std::unique_ptr<net::Transport> t = std::move(inner);
    if (tls::TlsContext* context = tls_of_listener[id]; context != nullptr) {
      SSL* ssl = context->NewSession();
      if (ssl == nullptr) {
        return false;
      }
      std::unique_ptr<net::Transport> tls =
          std::make_unique<tls::TlsTransport>(ssl, context, plugin::PeerAddress(c.fd()));
      t = t == nullptr ? std::move(tls)
                       : std::make_unique<net::StackedTransport>(std::move(tls), std::move(t));
    }
    if (t != nullptr) {
      c.SetTransport(std::move(t));
    }
    return true;
  };
  return absl::OkStatus();
}

std::vector<broker::OutsideFigure> ListenerTransports::TlsFigures() const {
  if (!has_tls_.load(std::memory_order_acquire)) {
    return {};  // no TLS listener, or Serve not finished (the admin thread may ask early)
  }
  using C = tls::TlsCounters;
  const struct {
    const char* name;
    const char* help;
    std::atomic<uint64_t> C::*field;
  } fields[] = {
      {"handshakes", "TLS handshakes completed.", &C::handshakes},
      {"handshake_failures",
       "TLS handshakes refused: not TLS, a certificate that does not verify, a protocol error.",
       &C::handshake_failures},
      {"handshakes_unfinished",
       "TLS connections closed before their handshake ended (stalled clients, scanners).",
       &C::handshakes_unfinished},
      {"reloads", "Certificate reloads (SIGHUP) that took effect, summed over TLS listeners.",
       &C::reloads},
  };
  std::vector<broker::OutsideFigure> out;
  for (const auto& f : fields) {
    uint64_t sum = 0;
    for (const auto& c : tls_) {
      sum += c != nullptr ? (c->counters().*f.field).load(std::memory_order_relaxed) : 0;
    }
    out.push_back({absl::StrFormat("$SYS/broker/tls/%s", f.name),
                   absl::StrFormat("ringmq_tls_%s_total", f.name), f.help, sum});
  }
  return out;
}

void ListenerTransports::ReloadTls() {
  for (const auto& c : tls_) {
    if (c == nullptr) {
      continue;
    }
    if (absl::Status s = c->Reload(); !s.ok()) {
      RINGMQ_LOG(kError, "reload: %s", s.message());
    } else {
      RINGMQ_LOG(kInfo, "reload: %s: certificate %s and key %s read again; new handshakes use them",
                 c->name(), c->settings().cert, c->settings().key);
    }
  }
}

}  // namespace ringmq::server
