#include "tests/plugins/fake_host.h"

#include <dlfcn.h>

#include <chrono>
#include <cstddef>

namespace ringmq::testing {

namespace {

std::string Str(ringmq_str s) {
  return s.len == 0 ? std::string() : std::string(s.ptr, s.len);
}

ringmq_str View(const std::string& s) {
  return ringmq_str{s.data(), s.size()};
}

const FakeClient& ClientOf(const ringmq_client* c) {
  return *reinterpret_cast<const FakeClient*>(c);
}

}  // namespace

FakeHost::FakeHost() {
  static_assert(offsetof(Table, api) == 0);
  table_.self = this;
  ringmq_host_api& a = table_.api;
  a = ringmq_host_api{};
  a.struct_size = sizeof(ringmq_host_api);
  a.abi_major = RINGMQ_PLUGIN_ABI_MAJOR;
  a.abi_minor = RINGMQ_PLUGIN_ABI_MINOR;
  a.log = &Log;
  a.complete = &Complete;
  a.complete_auth = &CompleteAuth;
  a.auth_reply = &AuthReply;
  a.client_id = &ClientId;
  a.client_username = &ClientUsername;
  a.client_address = &ClientAddress;
  a.client_cert_identity = &ClientCertIdentity;
  a.client_protocol = &ClientProtocol;
  a.publish = &Publish;
  a.disconnect = &Disconnect;
  a.timer_start = &TimerStart;
  a.timer_cancel = &TimerCancel;
  a.core_index = &CoreIndex;
}

FakeHost* FakeHost::From(const ringmq_host_api* api) {
  return reinterpret_cast<const Table*>(api)->self;
}

FakeHost::Core* FakeHost::CoreOf(const ringmq_core* core) {
  return const_cast<Core*>(reinterpret_cast<const Core*>(core));
}

ringmq_core* FakeHost::core(uint32_t index) {
  std::lock_guard<std::mutex> lock(mu_);
  while (cores_.size() <= index) {
    cores_.push_back(Core{this, static_cast<uint32_t>(cores_.size())});
  }
  return reinterpret_cast<ringmq_core*>(&cores_[index]);
}

std::vector<FakeHost::LogLine> FakeHost::logs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return logs_;
}

std::vector<FakeHost::Published> FakeHost::published() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

std::vector<FakeHost::Completion> FakeHost::completions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completions_;
}

std::vector<std::pair<std::string, uint32_t>> FakeHost::disconnects() const {
  std::lock_guard<std::mutex> lock(mu_);
  return disconnects_;
}

std::string FakeHost::last_auth_reply() const {
  std::lock_guard<std::mutex> lock(mu_);
  return auth_reply_;
}

bool FakeHost::WaitForLog(std::string_view text, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const LogLine& l : logs_) {
      if (l.text.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  });
}

bool FakeHost::WaitForCompletions(size_t count, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return completions_.size() >= count; });
}

size_t FakeHost::FireTimers(uint32_t core_index) {
  std::vector<Timer> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = timers_.begin(); it != timers_.end();) {
      if (it->core_index == core_index) {
        due.push_back(*it);
        it = timers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const Timer& t : due) {
    t.fn(t.arg);  // outside the lock: the callback may start timers
  }
  return due.size();
}

void FakeHost::Log(const ringmq_host_api* host, uint32_t level, ringmq_str message) {
  FakeHost* self = From(host);
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->logs_.push_back(LogLine{level, Str(message)});
  }
  self->cv_.notify_all();
}

void FakeHost::Complete(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d) {
  CompleteAuth(host, ticket, d, ringmq_str{nullptr, 0});
}

void FakeHost::CompleteAuth(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d,
                            ringmq_str data) {
  FakeHost* self = From(host);
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    self->completions_.push_back(Completion{ticket, d, Str(data)});
  }
  self->cv_.notify_all();
}

void FakeHost::AuthReply(ringmq_auth_reply* reply, ringmq_str data) {
  // The fake's reply handle is the FakeHost itself (auth_reply_handle()).
  FakeHost* self = reinterpret_cast<FakeHost*>(reply);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->auth_reply_ = Str(data);
}

ringmq_str FakeHost::ClientId(const ringmq_client* c) {
  return View(ClientOf(c).id);
}

ringmq_str FakeHost::ClientUsername(const ringmq_client* c, bool* present) {
  const FakeClient& client = ClientOf(c);
  if (present != nullptr) {
    *present = client.username.has_value();
  }
  return client.username ? View(*client.username) : ringmq_str{nullptr, 0};
}

ringmq_str FakeHost::ClientAddress(const ringmq_client* c) {
  return View(ClientOf(c).address);
}

ringmq_str FakeHost::ClientCertIdentity(const ringmq_client* c) {
  return View(ClientOf(c).cert_identity);
}

uint32_t FakeHost::ClientProtocol(const ringmq_client* c) {
  return ClientOf(c).protocol;
}

int FakeHost::Publish(ringmq_core* core, const ringmq_message* m) {
  Core* c = CoreOf(core);
  FakeHost* self = c->host;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    if (self->publish_result_ != 0) {
      return self->publish_result_;
    }
    self->published_.push_back(
        Published{c->index, OwnedMessage{Str(m->topic), Str(m->payload), m->qos, m->retain}});
  }
  self->cv_.notify_all();
  return 0;
}

void FakeHost::Disconnect(const ringmq_host_api* host, ringmq_str client_id, uint32_t reason) {
  FakeHost* self = From(host);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->disconnects_.emplace_back(Str(client_id), reason);
}

uint64_t FakeHost::TimerStart(ringmq_core* core, uint32_t /*delay_ms*/, void (*fn)(void*),
                              void* arg) {
  Core* c = CoreOf(core);
  std::lock_guard<std::mutex> lock(c->host->mu_);
  const uint64_t id = c->host->next_timer_id_++;
  c->host->timers_.push_back(Timer{id, c->index, fn, arg});
  return id;
}

void FakeHost::TimerCancel(ringmq_core* core, uint64_t timer_id) {
  Core* c = CoreOf(core);
  std::lock_guard<std::mutex> lock(c->host->mu_);
  std::erase_if(c->host->timers_, [&](const Timer& t) { return t.id == timer_id; });
}

uint32_t FakeHost::CoreIndex(const ringmq_core* core) {
  return CoreOf(core)->index;
}

OptionList& OptionList::Add(std::string key, std::string value) {
  items_.emplace_back(std::move(key), std::move(value));
  return *this;
}

ringmq_plugin_config OptionList::config(std::string_view name, uint32_t core_count) {
  name_ = std::string(name);
  options_.clear();
  for (const auto& [k, v] : items_) {
    options_.push_back(ringmq_option{View(k), View(v)});
  }
  ringmq_plugin_config c{};
  c.struct_size = sizeof(c);
  c.name = View(name_);
  c.options = options_.data();
  c.option_count = options_.size();
  c.core_count = core_count;
  return c;
}

std::unique_ptr<PluginModule> PluginModule::Open(const std::string& path,
                                                 const ringmq_host_api* host, std::string* error) {
  std::unique_ptr<PluginModule> m(new PluginModule);
  m->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (m->handle_ == nullptr) {
    *error = dlerror();
    return nullptr;
  }
  auto entry =
      reinterpret_cast<ringmq_plugin_entry_fn>(dlsym(m->handle_, RINGMQ_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    *error = path + ": no " RINGMQ_PLUGIN_ENTRY_SYMBOL;
    return nullptr;
  }
  m->descriptor_ = entry(host);
  if (m->descriptor_ == nullptr || m->descriptor_->hooks == nullptr) {
    *error = path + ": the entry point refused this host (or returned no hooks)";
    return nullptr;
  }
  return m;
}

PluginModule::~PluginModule() {
  if (handle_ != nullptr) {
    dlclose(handle_);
  }
}

}  // namespace ringmq::testing
