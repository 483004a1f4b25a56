// The websocket plugin's entry point: the plugin ABI (include/ringmq/plugin.h 1.1) around
// connection.h. It serves the listener protocol "websocket": every connection accepted on a
// ws:// listener gets a Connection; the host's transport hooks move bytes through it.
//   global_init / reload   main thread: options -> Settings (settings.h)
//   core_init / core_reload each shard takes the current Settings; new connections use them
//   transport_*            the shard the connection is on (it moves with its client)
#include <ringmq/plugin.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "plugins/websocket/connection.h"
#include "plugins/websocket/settings.h"

namespace ringmq::websocket {
namespace {

struct Global {
  const ringmq_host_api* host;
  std::mutex mu;
  std::shared_ptr<const Settings> settings;  // guarded by mu
};

struct Core {
  Global* global;
  std::shared_ptr<const Settings> settings;  // this shard's copy: no lock on accept
};

// A connection's state: the protocol, and scratch buffers reused for every call.
struct Transport {
  Transport(const ringmq_host_api* h, std::shared_ptr<const Settings> s)
      : host(h), conn(std::move(s)) {}
  const ringmq_host_api* host;
  Connection conn;
  std::string app, wire;
  std::string peer;
};

// Scratch beyond this (a large file's response) is given back after the call.
constexpr size_t kScratchKeptBytes = 64 * 1024;

void Log(const ringmq_host_api* host, uint32_t level, const std::string& text) {
  host->log(host, level, {text.data(), text.size()});
}

void Shrink(std::string* s) {
  if (s->capacity() > kScratchKeptBytes) {
    std::string().swap(*s);
  }
}

std::string View(ringmq_str s) {
  return s.len == 0 ? std::string() : std::string(s.ptr, s.len);
}

void CopyError(const std::string& text, char* error, size_t size) {
  std::snprintf(error, size, "%s", text.c_str());
}

void* GlobalInit(const ringmq_host_api* host, const ringmq_plugin_config* config, char* error,
                 size_t error_size) {
  std::string why;
  std::shared_ptr<const Settings> s = ParseSettings(*config, &why);
  if (s == nullptr) {
    CopyError(why, error, error_size);
    return nullptr;
  }
  auto* g = new Global;
  g->host = host;
  g->settings = std::move(s);
  Log(host, RINGMQ_LOG_INFO,
      "MQTT over WebSocket on path " + g->settings->upgrade.path +
          (g->settings->files != nullptr ? ", static files from " + g->settings->files->root()
                                         : ", no static files (no http_root)"));
  return g;
}

void GlobalFini(void* p) {
  delete static_cast<Global*>(p);
}

void* CoreInit(void* global, ringmq_core* core, uint32_t index) {
  (void)core;
  (void)index;
  auto* g = static_cast<Global*>(global);
  std::lock_guard<std::mutex> l(g->mu);
  return new Core{g, g->settings};
}

void CoreFini(void* p) {
  delete static_cast<Core*>(p);
}

bool Reload(void* global, const ringmq_plugin_config* config, char* error, size_t error_size) {
  std::string why;
  std::shared_ptr<const Settings> s = ParseSettings(*config, &why);
  if (s == nullptr) {
    CopyError(why, error, error_size);
    return false;
  }
  auto* g = static_cast<Global*>(global);
  std::lock_guard<std::mutex> l(g->mu);
  g->settings = std::move(s);
  return true;
}

void CoreReload(void* p) {
  auto* c = static_cast<Core*>(p);
  std::lock_guard<std::mutex> l(c->global->mu);
  c->settings = c->global->settings;
}

void* TransportOpen(void* core, const ringmq_transport_conn* conn) {
  auto* c = static_cast<Core*>(core);
  auto* t = new Transport(c->global->host, c->settings);
  t->peer = View(conn->peer_address);
  return t;
}

uint32_t Answer(Transport& t, Connection::Result r) {
  if (r == Connection::Result::kOk) {
    return RINGMQ_TRANSPORT_OK;
  }
  Log(t.host, RINGMQ_LOG_DEBUG, t.peer + ": closing: " + std::string(t.conn.close_reason()));
  return r == Connection::Result::kCloseAfterWire ? RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE
                                                  : RINGMQ_TRANSPORT_CLOSE;
}

uint32_t TransportInbound(void* p, ringmq_str in, ringmq_bytes* app, ringmq_bytes* wire) {
  auto& t = *static_cast<Transport*>(p);
  t.app.clear();
  t.wire.clear();
  const Connection::Result r = t.conn.Inbound({in.ptr, in.len}, &t.app, &t.wire);
  t.host->bytes_append(app, t.app.data(), t.app.size());
  t.host->bytes_append(wire, t.wire.data(), t.wire.size());
  Shrink(&t.app);
  Shrink(&t.wire);
  return Answer(t, r);
}

uint32_t TransportOutbound(void* p, const ringmq_str* parts, size_t count, ringmq_bytes* wire) {
  auto& t = *static_cast<Transport*>(p);
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    total += parts[i].len;
  }
  t.wire.clear();
  t.conn.FrameHeader(total, &t.wire);  // one Binary frame for everything of this flush
  t.host->bytes_append(wire, t.wire.data(), t.wire.size());
  for (size_t i = 0; i < count; ++i) {
    t.host->bytes_append(wire, parts[i].ptr, parts[i].len);
  }
  return RINGMQ_TRANSPORT_OK;
}

void TransportClosing(void* p, ringmq_bytes* wire) {
  auto& t = *static_cast<Transport*>(p);
  t.wire.clear();
  t.conn.Closing(&t.wire);
  t.host->bytes_append(wire, t.wire.data(), t.wire.size());
}

void TransportClose(void* p) {
  delete static_cast<Transport*>(p);
}

const ringmq_plugin_hooks kHooks = [] {
  ringmq_plugin_hooks h{};
  h.struct_size = sizeof h;
  h.global_init = &GlobalInit;
  h.global_fini = &GlobalFini;
  h.core_init = &CoreInit;
  h.core_fini = &CoreFini;
  h.reload = &Reload;
  h.core_reload = &CoreReload;
  h.transport_open = &TransportOpen;
  h.transport_inbound = &TransportInbound;
  h.transport_outbound = &TransportOutbound;
  h.transport_closing = &TransportClosing;
  h.transport_close = &TransportClose;
  return h;
}();

const ringmq_plugin_descriptor kDescriptor = [] {
  ringmq_plugin_descriptor d{};
  d.struct_size = sizeof d;
  d.abi_major = RINGMQ_PLUGIN_ABI_MAJOR;
  d.abi_minor = RINGMQ_PLUGIN_ABI_MINOR;
  d.name = ringmq_str_of("websocket");
  d.version = ringmq_str_of("1.0");
  d.hooks = &kHooks;
  d.transport_protocol = ringmq_str_of("websocket");
  return d;
}();

}  // namespace
}  // namespace ringmq::websocket

extern "C" RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  if (host->struct_size < sizeof(ringmq_host_api) || host->abi_minor < 1) {
    return nullptr;  // needs the transport hooks and bytes_append of ABI 1.1
  }
  return &ringmq::websocket::kDescriptor;
}
