// The host functions of include/ringmq/plugin.h: each finds its plugin and host through the
// table it was called with, or works on the handle it was given.
#include "core/plugin/host_api.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include "absl/strings/str_format.h"

#include "core/plugin/plugin_host.h"
#include "core/plugin/plugin_transport.h"

namespace ringmq::plugin {
namespace {

ringmq_str Str(std::string_view s) {
  return {s.data(), s.size()};
}

std::string_view View(ringmq_str s) {
  return s.ptr == nullptr ? std::string_view() : std::string_view(s.ptr, s.len);
}

void HostLog(const ringmq_host_api* api, uint32_t level, ringmq_str message) {
  const HostTable& t = TableOf(api);
  t.host->Log(t.plugin, level, View(message));
}

void HostComplete(const ringmq_host_api* api, uint64_t ticket, ringmq_decision d) {
  TableOf(api).host->Complete(ticket, d);
}

void HostCompleteAuth(const ringmq_host_api* api, uint64_t ticket, ringmq_decision d,
                      ringmq_str data) {
  TableOf(api).host->CompleteAuth(ticket, d, View(data));
}

void HostAuthReply(ringmq_auth_reply* reply, ringmq_str data) {
  if (reply != nullptr) {
    reply->data.assign(View(data));
  }
}

ringmq_str ClientId(const ringmq_client* c) {
  return Str(c->info->client_id);
}

ringmq_str ClientUsername(const ringmq_client* c, bool* present) {
  if (present != nullptr) {
    *present = c->info->has_username;
  }
  return Str(c->info->username);
}

ringmq_str ClientAddress(const ringmq_client* c) {
  if (!c->known_address.empty()) {
    return Str(c->known_address);
  }
  if (!c->address_read) {
    c->address = PeerAddress(c->info->socket_fd);
    c->address_read = true;
  }
  return Str(c->address);
}

ringmq_str ClientCertIdentity(const ringmq_client* c) {
  return Str(c->info->cert_identity);
}

uint32_t ClientProtocol(const ringmq_client* c) {
  return static_cast<uint32_t>(c->info->version);
}

int HostPublish(ringmq_core* core, const ringmq_message* m) {
  if (core == nullptr || m == nullptr || m->qos > 2 || core->services == nullptr) {
    return -1;
  }
  const bool ok = core->services->PublishFromBroker(View(m->topic), View(m->payload),
                                                    static_cast<mqtt::Qos>(m->qos), m->retain);
  return ok ? 0 : -1;
}

void HostDisconnect(const ringmq_host_api* api, ringmq_str client_id, uint32_t reason) {
  TableOf(api).host->Disconnect(View(client_id), reason);
}

void FireTimer(net::Timer* t) {
  auto* pt = static_cast<ringmq_core::PluginTimer*>(t);
  ringmq_core& core = *pt->core;
  auto node = core.timers.extract(pt->id);  // gone before it runs: fn may start another
  node.mapped()->fn(node.mapped()->arg);
}

uint64_t HostTimerStart(ringmq_core* core, uint32_t delay_ms, void (*fn)(void*), void* arg) {
  if (core == nullptr || fn == nullptr || core->services == nullptr || core->stopped) {
    return 0;
  }
  auto t = std::make_unique<ringmq_core::PluginTimer>();
  t->set_callback(&FireTimer);
  t->core = core;
  t->id = ++core->last_timer_id;
  t->fn = fn;
  t->arg = arg;
  core->services->shard_timers().Schedule(t.get(), core->services->clock_ms() + delay_ms);
  const uint64_t id = t->id;
  core->timers.emplace(id, std::move(t));
  return id;
}

void HostTimerCancel(ringmq_core* core, uint64_t id) {
  if (core != nullptr) {
    core->timers.erase(id);  // the timer cancels itself
  }
}

uint32_t HostCoreIndex(const ringmq_core* core) {
  return core->index;
}

}  // namespace

std::string PeerAddress(int fd) {
  if (fd < 0) {
    return {};
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return {};
  }
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return absl::StrFormat("%s:%d", host, ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return absl::StrFormat("[%s]:%d", host, ntohs(a->sin6_port));
  }
  return {};
}

void FillHostApi(HostTable* t) {
  ringmq_host_api& a = t->api;
  a = {};
  a.struct_size = sizeof a;
  a.abi_major = RINGMQ_PLUGIN_ABI_MAJOR;
  a.abi_minor = RINGMQ_PLUGIN_ABI_MINOR;
  a.log = &HostLog;
  a.complete = &HostComplete;
  a.complete_auth = &HostCompleteAuth;
  a.auth_reply = &HostAuthReply;
  a.client_id = &ClientId;
  a.client_username = &ClientUsername;
  a.client_address = &ClientAddress;
  a.client_cert_identity = &ClientCertIdentity;
  a.client_protocol = &ClientProtocol;
  a.publish = &HostPublish;
  a.disconnect = &HostDisconnect;
  a.timer_start = &HostTimerStart;
  a.timer_cancel = &HostTimerCancel;
  a.core_index = &HostCoreIndex;
  a.bytes_append = &BytesAppend;
  a.bytes_reserve = &BytesReserve;
}

}  // namespace ringmq::plugin
