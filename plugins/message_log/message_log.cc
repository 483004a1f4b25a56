// message_log: a ringmq plugin that writes one JSON line per message event (published, and
// optionally delivered and dropped) to a file. See README.md.
//
// Data flow:
//   shard thread: hook -> filter (events, topics) -> copy the fields into this core's
//                 RecordRing (no lock, no wait; a full ring drops and counts)
//   writer thread (LogWriter): rings -> JSON lines -> buffer -> write(2) -> rotation
//   main thread:  global_init / reload parse the options and open the file; global_fini
//                 drains the rings and closes the file
//   core 0's on_tick: reports the dropped count (host->log when it grew, and a retained
//                 $SYS/broker/plugins/<name>/dropped when it changed)
#include <ringmq/plugin.h>
#include <stdio.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "log_writer.h"
#include "message_log_for_test.h"
#include "record_ring.h"
#include "settings.h"

namespace ringmq::message_log {
namespace {

constexpr int64_t kDropLogIntervalMs = 10'000;

struct Global {
  const ringmq_host_api* host = nullptr;
  std::string name;                                // the plugin's name in the config
  std::string dropped_topic;                       // $SYS/broker/plugins/<name>/dropped
  std::vector<std::unique_ptr<RecordRing>> rings;  // one per core, made in global_init
  std::unique_ptr<LogWriter> writer;
  // Held only to copy or replace the pointer (main thread in reload, shards in core_reload).
  std::mutex settings_mu;
  std::shared_ptr<const Settings> settings;

  std::shared_ptr<const Settings> CurrentSettings() {
    std::lock_guard<std::mutex> lock(settings_mu);
    return settings;
  }

  uint64_t Dropped() const {
    uint64_t n = writer->lines_lost();
    for (const auto& ring : rings) {
      n += ring->dropped();
    }
    return n;
  }
};

struct Core {
  Global* global = nullptr;
  ringmq_core* core = nullptr;
  uint32_t index = 0;
  RecordRing* ring = nullptr;
  std::shared_ptr<const Settings> settings;
  // Core 0 reports the dropped count.
  uint64_t dropped_published = UINT64_MAX;  // the first tick publishes (a retained 0 too)
  uint64_t dropped_logged = 0;
  int64_t last_drop_log_ms = 0;
  bool publish_refusal_logged = false;
};

void WriteError(const std::string& message, char* error, size_t error_size) {
  if (error != nullptr && error_size > 0) {
    snprintf(error, error_size, "%s", message.c_str());
  }
}

void Log(const ringmq_host_api* host, uint32_t level, const std::string& text) {
  host->log(host, level, ringmq_str{text.data(), text.size()});
}

FileSettings FileSettingsOf(const Settings& s) {
  return FileSettings{s.file, s.rotate_bytes, s.rotate_keep, s.flush_ms};
}

int64_t UnixMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Parses the options and opens the file, on the main thread (global_init, reload), so that
// a path that cannot be opened is refused there instead of failing later in the writer.
bool ParseAndOpen(const ringmq_plugin_config& config, Settings* settings, OpenFile* file,
                  char* error, size_t error_size) {
  std::string why;
  if (!ParseSettings(config, settings, &why) || !OpenLogFile(settings->file, file, &why)) {
    WriteError(why, error, error_size);
    return false;
  }
  return true;
}

void* GlobalInit(const ringmq_host_api* host, const ringmq_plugin_config* config, char* error,
                 size_t error_size) {
  if (host->struct_size < sizeof(ringmq_host_api) || config->core_count == 0) {
    WriteError("the host's function table is older than this plugin", error, error_size);
    return nullptr;
  }
  auto settings = std::make_shared<Settings>();
  OpenFile file;
  if (!ParseAndOpen(*config, settings.get(), &file, error, error_size)) {
    return nullptr;
  }
  std::string why;
  auto g = std::make_unique<Global>();
  g->host = host;
  g->name.assign(config->name.ptr, config->name.len);
  g->dropped_topic =
      "$SYS/broker/plugins/" + (g->name.empty() ? "message_log" : g->name) + "/dropped";
  std::vector<RecordRing*> rings;
  for (uint32_t i = 0; i < config->core_count; ++i) {
    g->rings.push_back(std::make_unique<RecordRing>(settings->max_queue));
    rings.push_back(g->rings.back().get());
  }
  g->writer = std::make_unique<LogWriter>(host, std::move(rings), FileSettingsOf(*settings), file);
  if (!g->writer->Start(&why)) {
    WriteError(why, error, error_size);
    return nullptr;
  }
  g->settings = std::move(settings);
  return g.release();
}

void GlobalFini(void* global_plugin_ptr) {
  std::unique_ptr<Global> g(static_cast<Global*>(global_plugin_ptr));
  g->writer->StopAndJoin();  // drains every ring (the shards are done) and closes the file
  const uint64_t dropped = g->Dropped();
  Log(g->host, dropped > 0 ? RINGMQ_LOG_WARNING : RINGMQ_LOG_INFO,
      "closed " + g->settings->file + ": " + std::to_string(g->writer->lines_written()) +
          " lines written, " + std::to_string(dropped) + " dropped");
}

void* CoreInit(void* global_plugin_ptr, ringmq_core* core, uint32_t core_index) {
  auto* g = static_cast<Global*>(global_plugin_ptr);
  if (core_index >= g->rings.size()) {
    return nullptr;
  }
  auto* c = new Core;
  c->global = g;
  c->core = core;
  c->index = core_index;
  c->ring = g->rings[core_index].get();
  c->settings = g->CurrentSettings();
  return c;
}

void CoreFini(void* core_plugin_ptr) {
  delete static_cast<Core*>(core_plugin_ptr);
}

bool Reload(void* global_plugin_ptr, const ringmq_plugin_config* config, char* error,
            size_t error_size) {
  auto* g = static_cast<Global*>(global_plugin_ptr);
  auto settings = std::make_shared<Settings>();
  OpenFile file;
  if (!ParseAndOpen(*config, settings.get(), &file, error, error_size)) {
    return false;  // the running configuration stays
  }
  if (settings->max_queue > g->rings[0]->capacity()) {
    Log(g->host, RINGMQ_LOG_WARNING,
        "max_queue " + std::to_string(settings->max_queue) + " is larger than the queues made " +
            "at start (" + std::to_string(g->rings[0]->capacity()) + " lines); it takes effect " +
            "at the next start");
  }
  g->writer->Reopen(FileSettingsOf(*settings), file);
  std::lock_guard<std::mutex> lock(g->settings_mu);
  g->settings = std::move(settings);
  return true;
}

void CoreReload(void* core_plugin_ptr) {
  auto* c = static_cast<Core*>(core_plugin_ptr);
  c->settings = c->global->CurrentSettings();
}

// The hook's work: filter, then copy the fields into this core's ring.
void Capture(Core* c, Event event, uint32_t event_bit, const ringmq_client* client,
             const ringmq_message* m, uint32_t drop_reason) {
  const Settings& s = *c->settings;
  const std::string_view topic(m->topic.ptr, m->topic.len);
  if ((s.events & event_bit) == 0 || !s.topics.Matches(topic)) {
    return;
  }
  const ringmq_host_api* host = c->global->host;
  ringmq_str id{nullptr, 0};
  ringmq_str user{nullptr, 0};
  bool has_username = false;
  if (client != nullptr) {
    id = host->client_id(client);
    user = host->client_username(client, &has_username);
    if (!has_username) {
      user.len = 0;
    }
  }
  const size_t payload_kept =
      s.payload == PayloadMode::kNone ? 0 : std::min<size_t>(m->payload.len, s.payload_max_bytes);
  const uint64_t bytes = sizeof(Record) + id.len + user.len + topic.size() + payload_kept;
  Record* r = c->ring->TryClaim(s.max_queue, s.max_queue_bytes, bytes);
  if (r == nullptr) {
    return;  // counted by the ring; core 0's on_tick reports it
  }
  r->time_ms = UnixMs();
  r->event = event;
  r->drop_reason = drop_reason;
  r->qos = static_cast<uint8_t>(m->qos);
  r->retain = m->retain;
  r->has_client = client != nullptr;
  r->has_username = has_username;
  r->payload_mode = s.payload;
  r->payload_size = m->payload.len;
  r->truncated = s.payload != PayloadMode::kNone && payload_kept < m->payload.len;
  r->client_id_len = static_cast<uint32_t>(id.len);
  r->username_len = static_cast<uint32_t>(user.len);
  r->topic_len = static_cast<uint32_t>(topic.size());
  r->bytes.append(id.ptr, id.len);
  r->bytes.append(user.ptr, user.len);
  r->bytes.append(topic);
  r->bytes.append(m->payload.ptr, payload_kept);
  if (c->ring->Publish(s.max_queue, s.max_queue_bytes)) {
    c->global->writer->wakeup().Wake();
  }
}

void OnPublished(void* core_plugin_ptr, const ringmq_client* publisher, const ringmq_message* m) {
  Capture(static_cast<Core*>(core_plugin_ptr), Event::kPublished, kEventPublished, publisher, m, 0);
}

void OnDelivered(void* core_plugin_ptr, const ringmq_client* receiver, const ringmq_message* m) {
  Capture(static_cast<Core*>(core_plugin_ptr), Event::kDelivered, kEventDelivered, receiver, m, 0);
}

void OnDropped(void* core_plugin_ptr, const ringmq_client* receiver, const ringmq_message* m,
               uint32_t reason) {
  Capture(static_cast<Core*>(core_plugin_ptr), Event::kDropped, kEventDropped, receiver, m, reason);
}

void OnTick(void* core_plugin_ptr, int64_t now_ms) {
  auto* c = static_cast<Core*>(core_plugin_ptr);
  if (c->index != 0) {
    return;  // one core reports for all
  }
  Global* g = c->global;
  const uint64_t dropped = g->Dropped();
  if (dropped != c->dropped_published) {
    const std::string text = std::to_string(dropped);
    ringmq_message m{};
    m.struct_size = sizeof(m);
    m.qos = 0;
    m.retain = true;
    m.topic = ringmq_str{g->dropped_topic.data(), g->dropped_topic.size()};
    m.payload = ringmq_str{text.data(), text.size()};
    if (g->host->publish(c->core, &m) == 0) {
      c->dropped_published = dropped;
    } else if (!c->publish_refusal_logged) {  // tried again on every tick, said once
      Log(g->host, RINGMQ_LOG_WARNING, "host->publish refused " + g->dropped_topic);
      c->publish_refusal_logged = true;
    }
  }
  // Log when the count grew, at most once per kDropLogIntervalMs.
  if (dropped > c->dropped_logged &&
      (c->dropped_logged == 0 || now_ms - c->last_drop_log_ms >= kDropLogIntervalMs)) {
    Log(g->host, RINGMQ_LOG_WARNING,
        "dropped lines: +" + std::to_string(dropped - c->dropped_logged) + ", " +
            std::to_string(dropped) +
            " in all (a full queue: max_queue, max_queue_bytes; or the file could not be "
            "written)");
    c->dropped_logged = dropped;
    c->last_drop_log_ms = now_ms;
  }
}

constexpr ringmq_plugin_hooks kHooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = &GlobalInit,
    .global_fini = &GlobalFini,
    .core_init = &CoreInit,
    .core_fini = &CoreFini,
    .reload = &Reload,
    .core_reload = &CoreReload,
    .authenticate = nullptr,
    .auth_step = nullptr,
    .authorize_publish = nullptr,
    .authorize_subscribe = nullptr,
    .on_message_published = &OnPublished,
    .on_message_delivered = &OnDelivered,
    .on_message_dropped = &OnDropped,
    .on_client_connected = nullptr,
    .on_client_disconnected = nullptr,
    .on_tick = &OnTick,
};

constexpr char kName[] = "message_log";
constexpr char kVersion[] = "1.0.0";

constexpr ringmq_plugin_descriptor kDescriptor = {
    .struct_size = sizeof(ringmq_plugin_descriptor),
    .abi_major = RINGMQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {kName, sizeof(kName) - 1},
    .version = {kVersion, sizeof(kVersion) - 1},
    .hooks = &kHooks,
    .tick_interval_ms = 1000,
};

}  // namespace

void PauseWriterForTest(void* global) {
  static_cast<Global*>(global)->writer->PauseForTest();
}

void ResumeWriterForTest(void* global) {
  static_cast<Global*>(global)->writer->ResumeForTest();
}

bool WaitWrittenForTest(void* global, uint64_t lines, int timeout_ms) {
  return static_cast<Global*>(global)->writer->WaitWrittenForTest(lines, timeout_ms);
}

}  // namespace ringmq::message_log

extern "C" RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  if (host == nullptr || host->abi_major != RINGMQ_PLUGIN_ABI_MAJOR) {
    return nullptr;  // the host then names both versions
  }
  return &ringmq::message_log::kDescriptor;
}
