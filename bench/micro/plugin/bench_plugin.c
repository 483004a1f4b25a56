/* A plugin for plugin_hooks_bench: decisions that allow after looking at the topic, and an
 * event that counts, so the benchmark measures the host's cost, not the plugin's. */
#include "ringmq/plugin.h"

typedef struct {
  unsigned long events;
} state;

static state states[64];

static void* global_init(const ringmq_host_api* host, const ringmq_plugin_config* cfg, char* error,
                         size_t error_size) {
  (void)host;
  (void)cfg;
  (void)error;
  (void)error_size;
  return states;
}

static void* core_init(void* global, ringmq_core* core, uint32_t index) {
  (void)core;
  return &((state*)global)[index % 64];
}

static ringmq_decision authorize_publish(void* p, const ringmq_client* c, const ringmq_message* m,
                                         bool will, uint64_t ticket) {
  (void)p;
  (void)c;
  (void)will;
  (void)ticket;
  return m->topic.len > 0 && m->topic.ptr[0] == '!' ? ringmq_deny(0x87) : ringmq_allow();
}

static void on_published(void* p, const ringmq_client* c, const ringmq_message* m) {
  (void)c;
  (void)m;
  ++((state*)p)->events;
}

static const ringmq_plugin_hooks hooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = global_init,
    .core_init = core_init,
    .authorize_publish = authorize_publish,
    .on_message_published = on_published,
};

static const ringmq_plugin_descriptor descriptor = {
    .struct_size = sizeof descriptor,
    .abi_major = RINGMQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {"bench_plugin", 12},
    .version = {"1", 1},
    .hooks = &hooks,
    .tick_interval_ms = 0,
};

RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  (void)host;
  return &descriptor;
}
