/* A plugin for the host's ABI tests (tests/plugins/abi_test.py), in plain C11 like a user's
 * would be. What it does is chosen by its options:
 *   fail_init = true         global_init fails with a message
 *   crash_in = "global_init" | "core_init"   dereferences NULL there
 *   fail_core_init = N       core_init fails on core N
 *   connect = "allow" | "deny" | "pending_thread" | "pending_timer" | "never"
 *       deny: user "bad" gets 0x86, user "quota" 0x97; pending_thread: a thread of the plugin
 * completes the decision after 50 ms (password "secret" allows, anything else 0x86); pending_timer:
 *       a timer on the shard does; never: no answer (the deadline decides)
 *   deny_topic_prefix = "x/" publishes (and wills) to topics starting with it get 0x87;
 *                            subscriptions to filters starting with it get 0x87
 *   tag = "..."              logged at init and at each reload ("reload tag=...")
 *   auth = "sync" | "thread" enhanced authentication with method "TEST-CHALLENGE": the
 *       CONNECT (or AUTH 0x19) gets AUTH 0x18 with data "challenge"; an AUTH with data
 *       "answer" is allowed (data "welcome"), anything else refused with 0x87; other
 *       methods: 0x8C. thread: each step is answered from a thread (complete_auth)
 * It checks that every hook runs on the thread and core of its core_init (the count of
 * violations is logged by core_fini: "core N: hooks H, wrong thread V"), publishes
 * "core N" to plugin-test/tick/N on its first tick on each core, and disconnects the client
 * named in the payload of a message to plugin-test/kick (from its own thread).
 * Built twice more: with TEST_ABI_MAJOR=2 (refused by the host) and with TEST_NULL_HOOKS
 * (a table with nothing but struct_size: every hook NULL). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringmq/plugin.h"

#ifndef TEST_ABI_MAJOR
#define TEST_ABI_MAJOR RINGMQ_PLUGIN_ABI_MAJOR
#endif

typedef struct {
  const ringmq_host_api* host;
  char connect[32];
  char deny_prefix[64];
  char crash_in[32];
  char tag[64];
  char auth[16];
  long fail_core;
} global_state;

typedef struct {
  global_state* g;
  ringmq_core* core;
  uint32_t index;
  pthread_t thread;
  unsigned long hooks, wrong_thread;
  int ticked;
} core_state;

typedef struct {
  const ringmq_host_api* host;
  uint64_t ticket;
  ringmq_decision d;
} completion;

static const ringmq_host_api* the_host;

static void logf_(uint32_t level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(uint32_t level, const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  the_host->log(the_host, level, ringmq_str_of(buf));
}

static int eq(ringmq_str s, const char* lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void copy_str(char* dst, size_t cap, ringmq_str s) {
  size_t n = s.len < cap - 1 ? s.len : cap - 1;
  memcpy(dst, s.ptr, n);
  dst[n] = '\0';
}

/* Every hook: on the thread and core of this state's core_init? */
static void check_thread(core_state* c) {
  ++c->hooks;
  if (!pthread_equal(c->thread, pthread_self()) || the_host->core_index(c->core) != c->index) {
    ++c->wrong_thread;
  }
}

static int get_option(const ringmq_plugin_config* cfg, const char* key, ringmq_str* out) {
  for (size_t i = 0; i < cfg->option_count; ++i) {
    if (eq(cfg->options[i].key, key)) {
      *out = cfg->options[i].value;
      return 1;
    }
  }
  return 0;
}

static int apply_options(global_state* g, const ringmq_plugin_config* cfg, char* error,
                         size_t error_size) {
  ringmq_str v;
  strcpy(g->connect, "allow");
  g->deny_prefix[0] = g->crash_in[0] = g->tag[0] = g->auth[0] = '\0';
  g->fail_core = -1;
  if (get_option(cfg, "fail_init", &v) && eq(v, "true")) {
    snprintf(error, error_size, "told to fail (fail_init = true)");
    return 0;
  }
  if (get_option(cfg, "connect", &v)) {
    copy_str(g->connect, sizeof g->connect, v);
  }
  if (get_option(cfg, "deny_topic_prefix", &v)) {
    copy_str(g->deny_prefix, sizeof g->deny_prefix, v);
  }
  if (get_option(cfg, "crash_in", &v)) {
    copy_str(g->crash_in, sizeof g->crash_in, v);
  }
  if (get_option(cfg, "auth", &v)) {
    copy_str(g->auth, sizeof g->auth, v);
  }
  if (get_option(cfg, "tag", &v)) {
    copy_str(g->tag, sizeof g->tag, v);
  }
  if (get_option(cfg, "fail_core_init", &v)) {
    char num[16];
    copy_str(num, sizeof num, v);
    g->fail_core = strtol(num, NULL, 10);
  }
  if (strcmp(g->tag, "refuse") == 0) {
    snprintf(error, error_size, "tag 'refuse' is refused");
    return 0;
  }
  return 1;
}

static void crash(void) {
  volatile int* volatile p = NULL;
  *p = 1;
}

static void* global_init(const ringmq_host_api* host, const ringmq_plugin_config* cfg, char* error,
                         size_t error_size) {
  global_state* g = calloc(1, sizeof *g);
  g->host = host;
  if (!apply_options(g, cfg, error, error_size)) {
    free(g);
    return NULL;
  }
  if (strcmp(g->crash_in, "global_init") == 0) {
    crash();
  }
  logf_(RINGMQ_LOG_INFO, "init tag=%s cores=%u", g->tag, cfg->core_count);
  return g;
}

static void global_fini(void* p) {
  logf_(RINGMQ_LOG_INFO, "global_fini");
  free(p);
}

static void* core_init(void* global, ringmq_core* core, uint32_t index) {
  global_state* g = global;
  if (strcmp(g->crash_in, "core_init") == 0) {
    crash();
  }
  if (g->fail_core == (long)index) {
    return NULL;
  }
  core_state* c = calloc(1, sizeof *c);
  c->g = g;
  c->core = core;
  c->index = index;
  c->thread = pthread_self();
  return c;
}

static void core_fini(void* p) {
  core_state* c = p;
  logf_(RINGMQ_LOG_INFO, "core %u: hooks %lu, wrong thread %lu", c->index, c->hooks,
        c->wrong_thread);
  free(c);
}

static bool reload(void* global, const ringmq_plugin_config* cfg, char* error, size_t size) {
  global_state* g = global;
  global_state next = *g;
  if (!apply_options(&next, cfg, error, size)) {
    return false;
  }
  *g = next; /* a test plugin: the shards read these without a lock (do not copy this) */
  logf_(RINGMQ_LOG_INFO, "reload tag=%s", g->tag);
  return true;
}

static void core_reload(void* p) {
  core_state* c = p;
  check_thread(c);
  logf_(RINGMQ_LOG_INFO, "core_reload on core %u", c->index);
}

static void* complete_later(void* arg) {
  completion* c = arg;
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  c->host->complete(c->host, c->ticket, c->d);
  free(c);
  return NULL;
}

static void complete_now(void* arg) {
  completion* c = arg;
  c->host->complete(c->host, c->ticket, c->d);
  free(c);
}

static ringmq_decision authenticate(void* p, const ringmq_client* client,
                                    const ringmq_connect* connect, uint64_t ticket) {
  core_state* c = p;
  check_thread(c);
  const char* mode = c->g->connect;
  if (strcmp(mode, "deny") == 0) {
    bool present = false;
    ringmq_str user = the_host->client_username(client, &present);
    if (present && eq(user, "quota")) {
      return ringmq_deny(0x97); /* a code 3.x has no return code for */
    }
    return present && eq(user, "bad") ? ringmq_deny(0x86) : ringmq_allow();
  }
  if (strcmp(mode, "never") == 0) {
    return ringmq_pending();
  }
  int pending_thread = strcmp(mode, "pending_thread") == 0;
  if (!pending_thread && strcmp(mode, "pending_timer") != 0) {
    return ringmq_allow();
  }
  completion* later = malloc(sizeof *later);
  later->host = c->g->host;
  later->ticket = ticket;
  later->d =
      connect->has_password && eq(connect->password, "secret") ? ringmq_allow() : ringmq_deny(0x86);
  if (pending_thread) {
    pthread_t t;
    pthread_create(&t, NULL, complete_later, later);
    pthread_detach(t);
  } else {
    the_host->timer_start(c->core, 50, complete_now, later);
  }
  return ringmq_pending();
}

typedef struct {
  const ringmq_host_api* host;
  uint64_t ticket;
  ringmq_decision d;
  const char* data;
} auth_completion;

static void* complete_auth_later(void* arg) {
  auth_completion* a = arg;
  a->host->complete_auth(a->host, a->ticket, a->d, ringmq_str_of(a->data));
  free(a);
  return NULL;
}

static ringmq_decision auth_step(void* p, const ringmq_client* client, const ringmq_auth_step* step,
                                 ringmq_auth_reply* reply, uint64_t ticket) {
  core_state* c = p;
  (void)client;
  check_thread(c);
  if (c->g->auth[0] == '\0' || !eq(step->method, "TEST-CHALLENGE")) {
    return ringmq_deny(0x8C);
  }
  ringmq_decision d = ringmq_deny(0x87);
  const char* data = "";
  if (step->step == 0) {
    d = ringmq_continue();
    data = "challenge";
  } else if (eq(step->data, "answer")) {
    d = ringmq_allow();
    data = "welcome";
  }
  if (strcmp(c->g->auth, "thread") == 0) {
    auth_completion* a = malloc(sizeof *a);
    a->host = c->g->host;
    a->ticket = ticket;
    a->d = d;
    a->data = data;
    pthread_t t;
    pthread_create(&t, NULL, complete_auth_later, a);
    pthread_detach(t);
    return ringmq_pending();
  }
  the_host->auth_reply(reply, ringmq_str_of(data));
  return d;
}

static int denied(const core_state* c, ringmq_str topic) {
  size_t n = strlen(c->g->deny_prefix);
  return n > 0 && topic.len >= n && memcmp(topic.ptr, c->g->deny_prefix, n) == 0;
}

static void* kick(void* arg) {
  char* id = arg;
  the_host->disconnect(the_host, ringmq_str_of(id), 0x98);
  free(id);
  return NULL;
}

static ringmq_decision authorize_publish(void* p, const ringmq_client* client,
                                         const ringmq_message* m, bool will, uint64_t ticket) {
  core_state* c = p;
  (void)client;
  (void)will;
  (void)ticket;
  check_thread(c);
  if (eq(m->topic, "plugin-test/kick")) {
    char* id = calloc(1, m->payload.len + 1);
    memcpy(id, m->payload.ptr, m->payload.len);
    pthread_t t;
    pthread_create(&t, NULL, kick, id);
    pthread_detach(t);
  }
  return denied(c, m->topic) ? ringmq_deny(0x87) : ringmq_allow();
}

static ringmq_decision authorize_subscribe(void* p, const ringmq_client* client, ringmq_str filter,
                                           uint32_t qos, uint64_t ticket) {
  core_state* c = p;
  (void)client;
  (void)qos;
  (void)ticket;
  check_thread(c);
  return denied(c, filter) ? ringmq_deny(0x87) : ringmq_allow();
}

static void on_event(void* p, const ringmq_client* client, const ringmq_message* m) {
  (void)client;
  (void)m;
  check_thread(p);
}

static void on_dropped(void* p, const ringmq_client* client, const ringmq_message* m,
                       uint32_t reason) {
  (void)reason;
  on_event(p, client, m);
}

static void on_client(void* p, const ringmq_client* client) {
  core_state* c = p;
  check_thread(c);
  ringmq_str addr = the_host->client_address(client);
  ringmq_str id = the_host->client_id(client);
  logf_(RINGMQ_LOG_DEBUG, "client %.*s from %.*s protocol %u", (int)id.len, id.ptr, (int)addr.len,
        addr.ptr, the_host->client_protocol(client));
}

static void on_tick(void* p, int64_t now_ms) {
  core_state* c = p;
  (void)now_ms;
  check_thread(c);
  if (!c->ticked) {
    char topic[64], payload[32];
    snprintf(topic, sizeof topic, "plugin-test/tick/%u", c->index);
    snprintf(payload, sizeof payload, "core %u", c->index);
    ringmq_message m = {sizeof m, 1, true, ringmq_str_of(topic), ringmq_str_of(payload)};
    c->ticked = the_host->publish(c->core, &m) == 0;
  }
}

#ifdef TEST_NULL_HOOKS
static const ringmq_plugin_hooks hooks = {.struct_size = sizeof(uint32_t)};
#else
static const ringmq_plugin_hooks hooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = global_init,
    .global_fini = global_fini,
    .core_init = core_init,
    .core_fini = core_fini,
    .reload = reload,
    .core_reload = core_reload,
    .authenticate = authenticate,
    .auth_step = auth_step,
    .authorize_publish = authorize_publish,
    .authorize_subscribe = authorize_subscribe,
    .on_message_published = on_event,
    .on_message_delivered = on_event,
    .on_message_dropped = on_dropped,
    .on_client_connected = on_client,
    .on_client_disconnected = on_client,
    .on_tick = on_tick,
};
#endif

static const ringmq_plugin_descriptor descriptor = {
    .struct_size = sizeof(ringmq_plugin_descriptor),
    .abi_major = TEST_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {"test_plugin", 11},
    .version = {"1", 1},
    .hooks = &hooks,
    .tick_interval_ms = 100,
};

RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  the_host = host;
  return &descriptor;
}
