/* rate_limit: a per-client publish rate limiter, an example ringmq plugin in plain C11.
 *
 * Each client id has a token bucket: it holds up to `burst` tokens and gains `rate` tokens a
 * second; a PUBLISH takes one token, and a PUBLISH that finds less than one is refused with
 * 0x97 (quota exceeded; 3.x clients: the message is dropped). A client's bucket is forgotten
 * when its connection ends.
 *
 * Threads: a client's hooks always run on the shard that owns its session, so each core keeps
 * its own table of buckets (made in core_init) and nothing is shared or locked. The options
 * live in the global state as atomics: reload (main thread) stores them, core_reload (each
 * shard) copies them into the core.
 *
 * Build out of tree against the installed header:
 *   cc $(pkg-config --cflags ringmq) -shared -fPIC -fvisibility=hidden -o rate_limit.so
 * rate_limit.c
 */
#define _POSIX_C_SOURCE 200809L

#include <ringmq/plugin.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUOTA_EXCEEDED 0x97
#define MAX_RATE 1e6  /* messages per second */
#define MAX_BURST 1e6 /* messages */

/* ---- options ----------------------------------------------------------------------------- */

typedef struct limits {
  double rate;  /* tokens gained per second */
  double burst; /* bucket size */
} limits;

static int str_eq(ringmq_str s, const char* lit) {
  return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* A positive decimal number no larger than max; returns 0 on anything else. */
static int parse_number(ringmq_str s, double max, double* out) {
  char text[64];
  char* end = NULL;
  if (s.len == 0 || s.len >= sizeof(text)) {
    return 0;
  }
  memcpy(text, s.ptr, s.len);
  text[s.len] = '\0';
  double v = strtod(text, &end);
  if (*end != '\0' || !(v > 0) || v > max) { /* !(v > 0) also refuses NaN */
    return 0;
  }
  *out = v;
  return 1;
}

static int parse_options(const ringmq_plugin_config* config, limits* out, char* error,
                         size_t error_size) {
  limits l = {10.0, 20.0}; /* defaults: 10 messages/s, bursts of 20 */
  for (size_t i = 0; i < config->option_count; ++i) {
    ringmq_str key = config->options[i].key;
    ringmq_str value = config->options[i].value;
    if (str_eq(key, "rate")) {
      if (!parse_number(value, MAX_RATE, &l.rate)) {
        snprintf(error, error_size, "option 'rate': expected messages per second, > 0");
        return 0;
      }
    } else if (str_eq(key, "burst")) {
      if (!parse_number(value, MAX_BURST, &l.burst) || l.burst < 1 ||
          l.burst != (double)(int64_t)l.burst) {
        snprintf(error, error_size, "option 'burst': expected a whole number of messages, >= 1");
        return 0;
      }
    } else {
      snprintf(error, error_size, "unknown option '%.*s' (known: rate, burst)", (int)key.len,
               key.ptr);
      return 0;
    }
  }
  *out = l;
  return 1;
}

/* ---- global and per-core state ------------------------------------------------------------- */

typedef struct global_state {
  const ringmq_host_api* host;
  /* Written by the main thread (global_init, reload), read by shards in core_reload. Stored as
   * the bits of a double so that plain C11 atomics suffice. */
  _Atomic uint64_t rate_bits;
  _Atomic uint64_t burst_bits;
} global_state;

static uint64_t double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}

static double bits_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

static void store_limits(global_state* g, limits l) {
  atomic_store(&g->rate_bits, double_bits(l.rate));
  atomic_store(&g->burst_bits, double_bits(l.burst));
}

typedef struct bucket {
  char* client_id; /* NULL: an empty slot */
  size_t client_id_len;
  uint64_t hash;
  double tokens;
  int64_t last_ns; /* when tokens was last brought up to date */
} bucket;

/* One core's buckets: an open-addressing table (linear probing, capacity a power of two,
 * at most 3/4 full), keyed by client id. */
typedef struct core_state {
  global_state* global;
  limits limits;
  bucket* slots;
  size_t capacity;
  size_t count;
} core_state;

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t hash_bytes(const char* p, size_t n) { /* FNV-1a */
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; ++i) {
    h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  }
  return h;
}

/* The slot holding id, or the empty slot where it would go. */
static size_t find_slot(const core_state* c, ringmq_str id, uint64_t h) {
  size_t i = h & (c->capacity - 1);
  while (c->slots[i].client_id != NULL &&
         !(c->slots[i].hash == h && c->slots[i].client_id_len == id.len &&
           memcmp(c->slots[i].client_id, id.ptr, id.len) == 0)) {
    i = (i + 1) & (c->capacity - 1);
  }
  return i;
}

static int grow(core_state* c) {
  size_t capacity = c->capacity * 2;
  bucket* slots = calloc(capacity, sizeof(bucket));
  if (slots == NULL) {
    return 0;
  }
  bucket* old = c->slots;
  size_t old_capacity = c->capacity;
  c->slots = slots;
  c->capacity = capacity;
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].client_id != NULL) {
      ringmq_str id = {old[i].client_id, old[i].client_id_len};
      c->slots[find_slot(c, id, old[i].hash)] = old[i];
    }
  }
  free(old);
  return 1;
}

/* The client's bucket, made full on first use; NULL when out of memory. */
static bucket* bucket_of(core_state* c, ringmq_str id, int64_t now_ns) {
  uint64_t h = hash_bytes(id.ptr, id.len);
  size_t i = find_slot(c, id, h);
  if (c->slots[i].client_id != NULL) {
    return &c->slots[i];
  }
  if ((c->count + 1) * 4 > c->capacity * 3) {
    if (!grow(c)) {
      return NULL;
    }
    i = find_slot(c, id, h);
  }
  char* copy = malloc(id.len + 1); /* the view is valid during the hook only */
  if (copy == NULL) {
    return NULL;
  }
  memcpy(copy, id.ptr, id.len);
  bucket b = {copy, id.len, h, c->limits.burst, now_ns};
  c->slots[i] = b;
  c->count++;
  return &c->slots[i];
}

/* Removes id's bucket, moving later entries of its probe run back (no tombstones). */
static void forget(core_state* c, ringmq_str id) {
  size_t mask = c->capacity - 1;
  size_t i = find_slot(c, id, hash_bytes(id.ptr, id.len));
  if (c->slots[i].client_id == NULL) {
    return;
  }
  free(c->slots[i].client_id);
  c->slots[i].client_id = NULL;
  c->count--;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (c->slots[j].client_id == NULL) {
      return;
    }
    size_t home = c->slots[j].hash & mask;
    /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
    int stays = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      c->slots[i] = c->slots[j];
      c->slots[j].client_id = NULL;
      i = j;
    }
  }
}

/* ---- hooks -------------------------------------------------------------------------------- */

static void* rl_global_init(const ringmq_host_api* host, const ringmq_plugin_config* config,
                            char* error, size_t error_size) {
  limits l;
  if (!parse_options(config, &l, error, error_size)) {
    return NULL;
  }
  global_state* g = calloc(1, sizeof(*g));
  if (g == NULL) {
    snprintf(error, error_size, "out of memory");
    return NULL;
  }
  g->host = host;
  store_limits(g, l);
  return g;
}

static void rl_global_fini(void* global_plugin_ptr) {
  free(global_plugin_ptr);
}

static void rl_core_reload(void* core_plugin_ptr);

static void* rl_core_init(void* global_plugin_ptr, ringmq_core* core, uint32_t core_index) {
  (void)core;
  (void)core_index;
  core_state* c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  c->global = global_plugin_ptr;
  c->capacity = 64;
  c->slots = calloc(c->capacity, sizeof(bucket));
  if (c->slots == NULL) {
    free(c);
    return NULL;
  }
  rl_core_reload(c);
  return c;
}

static void rl_core_fini(void* core_plugin_ptr) {
  core_state* c = core_plugin_ptr;
  for (size_t i = 0; i < c->capacity; ++i) {
    free(c->slots[i].client_id);
  }
  free(c->slots);
  free(c);
}

static bool rl_reload(void* global_plugin_ptr, const ringmq_plugin_config* config, char* error,
                      size_t error_size) {
  limits l;
  if (!parse_options(config, &l, error, error_size)) {
    return false;
  }
  store_limits(global_plugin_ptr, l);
  return true;
}

static void rl_core_reload(void* core_plugin_ptr) {
  core_state* c = core_plugin_ptr;
  c->limits.rate = bits_double(atomic_load(&c->global->rate_bits));
  c->limits.burst = bits_double(atomic_load(&c->global->burst_bits));
}

static ringmq_decision rl_authorize_publish(void* core_plugin_ptr, const ringmq_client* client,
                                            const ringmq_message* message, bool will,
                                            uint64_t ticket) {
  (void)message;
  (void)ticket;
  if (will) {
    return ringmq_allow(); /* a will is checked with its CONNECT, not counted */
  }
  core_state* c = core_plugin_ptr;
  int64_t now = monotonic_ns();
  bucket* b = bucket_of(c, c->global->host->client_id(client), now);
  if (b == NULL) {
    return ringmq_deny(QUOTA_EXCEEDED); /* out of memory: refuse rather than not count */
  }
  b->tokens += (double)(now - b->last_ns) * 1e-9 * c->limits.rate;
  if (b->tokens > c->limits.burst) {
    b->tokens = c->limits.burst;
  }
  b->last_ns = now;
  if (b->tokens < 1.0) {
    return ringmq_deny(QUOTA_EXCEEDED);
  }
  b->tokens -= 1.0;
  return ringmq_allow();
}

static void rl_on_client_disconnected(void* core_plugin_ptr, const ringmq_client* client) {
  core_state* c = core_plugin_ptr;
  forget(c, c->global->host->client_id(client));
}

static const ringmq_plugin_hooks hooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = rl_global_init,
    .global_fini = rl_global_fini,
    .core_init = rl_core_init,
    .core_fini = rl_core_fini,
    .reload = rl_reload,
    .core_reload = rl_core_reload,
    .authorize_publish = rl_authorize_publish,
    .on_client_disconnected = rl_on_client_disconnected,
};

static const ringmq_plugin_descriptor descriptor = {
    .struct_size = sizeof(ringmq_plugin_descriptor),
    .abi_major = RINGMQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {"rate_limit", sizeof("rate_limit") - 1},
    .version = {"1.0.0", sizeof("1.0.0") - 1},
    .hooks = &hooks,
    .tick_interval_ms = 0,
};

RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  if (host->abi_major != RINGMQ_PLUGIN_ABI_MAJOR) {
    return NULL; /* the host names both versions */
  }
  return &descriptor;
}
