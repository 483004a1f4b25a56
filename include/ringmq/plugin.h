/* ringmq/plugin.h: the plugin ABI of the ringmq MQTT broker. This header is the manual.
 *
 * A plugin is a shared object (.so) that exports exactly one symbol, ringmq_plugin_entry. The
 * broker loads it with dlopen(RTLD_NOW | RTLD_LOCAL), calls the entry point with the table of
 * host functions, and reads back a descriptor: the ABI version the plugin was built for, its
 * name, and its table of hooks. The broker executable exports nothing; everything a plugin may
 * call reaches it through ringmq_host_api.
 *
 * Pure C11 (also compiles as C++), depending only on <stddef.h>, <stdint.h> and <stdbool.h>.
 * Build a plugin with:   cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags ringmq) ...
 * (A C++ plugin also needs a linker version script exporting only ringmq_plugin_entry:
 * instances of std:: templates stay visible despite -fvisibility=hidden.)
 *
 * STABILITY RULES
 * - Versions: RINGMQ_PLUGIN_ABI_MAJOR changes only when something existing changes meaning or
 *   layout; the host refuses a plugin built for another major, naming both versions. MINOR
 *   grows when something is appended; a plugin built for an older minor loads in a newer host.
 * - Every struct that may grow begins with `struct_size` (the size its writer knew). Fields are
 *   only ever appended. A reader never reads a field that lies beyond struct_size: the host
 *   checks the plugin's structs, and a plugin built for minor N may read fields of minor N from
 *   host structs (the host is at least as new: same major, minor >= N is checked at load).
 * - Enumerated values travel as uint32_t. Unknown values are treated as the safe default that
 *   each enum names (an unknown verdict is a DENY).
 * - A name never changes meaning: a changed function is added as name_v2.
 *
 * STRINGS AND OWNERSHIP
 * - ringmq_str is a {ptr, len} view, not NUL-terminated, possibly binary (passwords, payloads).
 *   A view passed to a hook is valid only during that call; copy what you keep.
 * - Views a plugin passes to a host function are read during the call only; the host copies
 *   what it keeps. Pointer names ending in _host_ptr are owned by the host, _plugin_ptr by the
 *   plugin.
 *
 * THREADS
 * - The broker runs one shard per core, each on its own thread. Every connection (and every
 *   session) belongs to one shard, and hooks about it are called on that shard's thread.
 * - global_init, reload and global_fini run on the main thread, while shards may be running
 *   (reload) or not yet / no longer running (init, fini).
 * - core_init, core_reload, core_fini and every hook run on one shard's thread and get that
 *   shard's state (what core_init returned). Hooks of one shard never overlap; hooks of
 *   different shards run at the same time. Keep per-core state per core and there is nothing
 *   to lock.
 * - HOOKS MUST NOT BLOCK. A hook that waits (on a disk, a socket, a slow hash, a lock held by
 *   another thread) stalls every client of its shard. A decision that takes time returns
 *   RINGMQ_PENDING, keeps the ticket, and completes it later from any thread (its own worker
 *   thread, for example) with host->complete(). Work that produces output (a log file) hands
 *   it to a thread of the plugin through a bounded queue.
 *
 * SEVERAL PLUGINS
 * - Plugins are loaded and called in the order of the configuration. A decision is ALLOW only
 *   when every plugin that implements the hook allows: the first DENY decides, and a PENDING
 *   answer holds the chain until it is completed (an ALLOW then asks the next plugin). Events
 *   go to every plugin that implements them.
 * - A plugin that fails to load or whose global_init or core_init fails stops the broker with
 *   a message: the broker never runs without a plugin it was told to use.
 */
#ifndef RINGMQ_PLUGIN_H
#define RINGMQ_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RINGMQ_PLUGIN_ABI_MAJOR 1
#define RINGMQ_PLUGIN_ABI_MINOR 1

/* The one symbol a plugin exports (mark it visible; build with -fvisibility=hidden). */
#if defined(__GNUC__)
#define RINGMQ_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RINGMQ_PLUGIN_EXPORT
#endif

/* ---- basic types ----------------------------------------------------------------------- */

/* A view of bytes: not NUL-terminated, valid as documented where it appears. */
typedef struct ringmq_str {
  const char* ptr;
  size_t len;
} ringmq_str;

/* Log levels for host->log. Unknown values log at RINGMQ_LOG_INFO. */
enum { RINGMQ_LOG_DEBUG = 0, RINGMQ_LOG_INFO = 1, RINGMQ_LOG_WARNING = 2, RINGMQ_LOG_ERROR = 3 };

/* What a decision hook answers. Unknown values count as RINGMQ_DENY with reason 0x80. */
enum {
  RINGMQ_ALLOW = 0,   /* go on (the next plugin is asked, if any) */
  RINGMQ_DENY = 1,    /* refuse, with `reason` */
  RINGMQ_PENDING = 2, /* the answer comes later through host->complete(ticket, ...) */
  RINGMQ_CONTINUE = 3 /* enhanced authentication only: send AUTH 0x18 with the reply data */
};

/* A decision: verdict (above) and, with RINGMQ_DENY, an MQTT 5.0 reason code:
 *   0x80 unspecified error, 0x85 client identifier not valid (CONNECT only),
 *   0x86 bad user name or password, 0x87 not authorized, 0x88 server unavailable,
 *   0x8A banned, 0x8C bad authentication method, 0x97 quota exceeded (a rate limit),
 *   0x9F connection rate exceeded.
 * The host translates for MQTT 3.1/3.1.1 clients: CONNACK return code 2 (identifier rejected)
 * for 0x85, 4 for 0x86, 3 (server unavailable) for 0x88 and 0x89, 5 (not authorized) for the
 * rest; SUBACK 0x80; a refused 3.x PUBLISH is dropped (QoS 1/2 are still acknowledged, as 3.x has
 * no way to say no). Reason 0 with RINGMQ_DENY means 0x87. */
typedef struct ringmq_decision {
  uint32_t verdict;
  uint32_t reason;
} ringmq_decision;

/* Opaque handles. */
typedef struct ringmq_core ringmq_core;     /* one shard, as the host sees it (_host_ptr) */
typedef struct ringmq_client ringmq_client; /* the client a hook is about; valid for the call */
typedef struct ringmq_auth_reply ringmq_auth_reply; /* enhanced auth reply data; for the call */
typedef struct ringmq_bytes ringmq_bytes; /* a transport's output buffer; for the call (1.1) */

/* MQTT protocol levels, as ringmq_host_api.client_protocol returns them. */
enum { RINGMQ_MQTT_31 = 3, RINGMQ_MQTT_311 = 4, RINGMQ_MQTT_50 = 5 };

/* Why a message did not reach a subscriber (on_message_dropped). Unknown: "other". */
enum {
  RINGMQ_DROP_OFFLINE = 0,       /* QoS 0 for a session without a connection */
  RINGMQ_DROP_SLOW_CONSUMER = 1, /* QoS 0 for a connection whose output is congested */
  RINGMQ_DROP_QUEUE_FULL = 2,    /* the session's queue, or the broker's share, is full */
  RINGMQ_DROP_EXPIRED = 3,       /* its Message Expiry Interval passed */
  RINGMQ_DROP_TOO_LARGE = 4,     /* larger than the client's Maximum Packet Size */
  RINGMQ_DROP_NOT_STORED = 5     /* the store refused it (disk full, I/O error) */
};

/* A message, as hooks see it and as host->publish takes it. */
typedef struct ringmq_message {
  uint32_t struct_size;
  uint32_t qos; /* 0, 1 or 2 */
  bool retain;
  ringmq_str topic;
  ringmq_str payload;
} ringmq_message;

/* A CONNECT, as the authenticate hook sees it (the client's id and user name are read
 * through the ringmq_client handle). */
typedef struct ringmq_connect {
  uint32_t struct_size;
  bool has_password;
  bool clean_start;
  ringmq_str password; /* binary; empty when has_password is false */
} ringmq_connect;

/* One step of MQTT 5.0 enhanced authentication: the CONNECT that names an Authentication
 * Method (step 0), then each AUTH packet the client sends (step 1, 2, ...). */
typedef struct ringmq_auth_step {
  uint32_t struct_size;
  uint32_t step;
  ringmq_str method; /* Authentication Method */
  ringmq_str data;   /* Authentication Data (empty when absent) */
} ringmq_auth_step;

/* One key = value option of the plugin's table in the config file. Values are the text of
 * TOML scalars: strings as written (unquoted), integers in decimal, booleans true/false. */
typedef struct ringmq_option {
  ringmq_str key;
  ringmq_str value;
} ringmq_option;

/* What global_init and reload get. Valid during the call; copy what you keep. */
typedef struct ringmq_plugin_config {
  uint32_t struct_size;
  ringmq_str name;              /* the plugin's name in the config (its table's `name`) */
  const ringmq_option* options; /* in the order of the file */
  size_t option_count;
  uint32_t core_count; /* shards: core_init is called with 0 .. core_count-1 */
} ringmq_plugin_config;

/* A connection accepted on a listener whose protocol a plugin serves (1.1). Valid for the
 * transport_open call. */
typedef struct ringmq_transport_conn {
  uint32_t struct_size;
  ringmq_str protocol;     /* the listener's protocol, e.g. "websocket" */
  ringmq_str peer_address; /* "IP:PORT" ("[IPv6]:PORT") */
  uint32_t listener_index; /* the listener's place in the configuration, from 0 */
} ringmq_transport_conn;

/* What a transport hook answers. Unknown values are RINGMQ_TRANSPORT_CLOSE. */
enum {
  RINGMQ_TRANSPORT_OK = 0,
  RINGMQ_TRANSPORT_CLOSE = 1,            /* close at once; nothing more is sent */
  RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE = 2, /* send what is on `wire` (an error answer, a close
                                          * frame), then close; further input is discarded */
};

/* ---- host functions -------------------------------------------------------------------- */

typedef struct ringmq_host_api ringmq_host_api;

/* Filled by the host; valid from the entry point until global_fini returns. */
struct ringmq_host_api {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor; /* the host's version */

  /* Any thread. Writes one line to the broker's log, prefixed with the plugin's name. */
  void (*log)(const ringmq_host_api* host, uint32_t level, ringmq_str message);

  /* Any thread. Completes a decision a hook answered with RINGMQ_PENDING. A ticket is
   * completed once; a ticket whose deadline passed (the client was already refused), whose
   * client went away, or that is unknown is counted as late and dropped. d.verdict must be
   * RINGMQ_ALLOW or RINGMQ_DENY (anything else counts as DENY 0x80). */
  void (*complete)(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d);

  /* Any thread. Completes an enhanced-authentication step answered with RINGMQ_PENDING:
   * ALLOW (CONNACK, with `data` as its Authentication Data when not empty), CONTINUE (AUTH
   * 0x18 with `data`) or DENY. `data` is copied. */
  void (*complete_auth)(const ringmq_host_api* host, uint64_t ticket, ringmq_decision d,
                        ringmq_str data);

  /* Shard thread, during auth_step only. Sets the Authentication Data sent back with this
   * step's answer (AUTH 0x18 with RINGMQ_CONTINUE, CONNACK with RINGMQ_ALLOW). Copied. */
  void (*auth_reply)(ringmq_auth_reply* reply, ringmq_str data);

  /* Reading the client a hook is about. Shard thread, during that hook only. The views are
   * valid during the hook. */
  ringmq_str (*client_id)(const ringmq_client* c);
  /* The user name; *present (may be NULL) says whether the CONNECT had one. */
  ringmq_str (*client_username)(const ringmq_client* c, bool* present);
  /* "IP:PORT" ("[IPv6]:PORT") of the peer; empty for a session without a connection. */
  ringmq_str (*client_address)(const ringmq_client* c);
  /* The identity from the client's TLS certificate (subject CN or SAN) on a listener with
   * identity_as_username; it is then also the user name. Empty otherwise. */
  ringmq_str (*client_cert_identity)(const ringmq_client* c);
  /* RINGMQ_MQTT_31, RINGMQ_MQTT_311 or RINGMQ_MQTT_50. */
  uint32_t (*client_protocol)(const ringmq_client* c);

  /* Shard thread of `core`. Publishes a message from the broker itself (no publisher, no
   * authorisation hook; message events are called as for any message). Returns 0, or -1
   * when the topic is not a valid topic name or the message is refused (limits). */
  int (*publish)(ringmq_core* core, const ringmq_message* m);

  /* Any thread. Disconnects the client with this id wherever it is connected (5.0 clients
   * get DISCONNECT with `reason`, e.g. 0x87 or 0x98 administrative action; 3.x clients are
   * closed). Asynchronous; nothing happens when no such client is connected. */
  void (*disconnect)(const ringmq_host_api* host, ringmq_str client_id, uint32_t reason);

  /* Shard thread of `core`. Calls fn(arg) on this shard's thread once, after delay_ms
   * (resolution: a few milliseconds). Returns a timer id (never 0). */
  uint64_t (*timer_start)(ringmq_core* core, uint32_t delay_ms, void (*fn)(void* arg), void* arg);
  /* Shard thread of `core`. Cancels a timer that has not fired; an unknown id is ignored. */
  void (*timer_cancel)(ringmq_core* core, uint64_t timer_id);

  /* Any thread. The index of the shard (0 .. core_count-1). */
  uint32_t (*core_index)(const ringmq_core* core);

  /* ---- 1.1: transports ---- */
  /* Shard thread, during a transport hook only. Appends `len` bytes to `b` (copied). */
  void (*bytes_append)(ringmq_bytes* b, const void* data, size_t len);
  /* Shard thread, during a transport hook only. Reserves `len` bytes at the end of `b` and
   * returns where to write them; all of them must be written before the next call on `b`.
   * NULL when len is 0. */
  uint8_t* (*bytes_reserve)(ringmq_bytes* b, size_t len);
};

/* ---- plugin hooks ---------------------------------------------------------------------- */

/* Filled by the plugin; a NULL member means "not implemented" and is never called (a
 * decision hook that is NULL allows). Must stay valid until global_fini returns. */
typedef struct ringmq_plugin_hooks {
  uint32_t struct_size;

  /* Main thread, once, before any shard runs. Parses the options; returns the plugin's
   * global state (any non-NULL pointer; NULL means failure: write why into error, at most
   * error_size bytes with the terminating NUL, and the broker stops with that message). */
  void* (*global_init)(const ringmq_host_api* host, const ringmq_plugin_config* config, char* error,
                       size_t error_size);
  /* Main thread, once, after every core_fini. */
  void (*global_fini)(void* global_plugin_ptr);

  /* The shard's thread, once per shard before it serves clients. Returns this core's state
   * (given to every hook on this shard; may be the global pointer; NULL means failure: the
   * broker stops). `core` is the host's handle of this shard for host functions. */
  void* (*core_init)(void* global_plugin_ptr, ringmq_core* core, uint32_t core_index);
  /* The shard's thread, once, after its last hook. */
  void (*core_fini)(void* core_plugin_ptr);

  /* Main thread, on SIGHUP, while the shards run. Reads the options again (password files,
   * rules...). Return true to take them; false keeps the running configuration (write why
   * into error). The new state must be published to the shards safely (an atomic pointer,
   * or core_reload below). */
  bool (*reload)(void* global_plugin_ptr, const ringmq_plugin_config* config, char* error,
                 size_t error_size);
  /* Each shard's thread, after a successful reload: take the new state into this core. */
  void (*core_reload)(void* core_plugin_ptr);

  /* Decisions (shard thread). `ticket` names the decision for a RINGMQ_PENDING answer; it is
   * unique for the life of the broker. A pending decision not completed within the broker's
   * decision timeout (decision_timeout_ms, 5 s by default) is refused: CONNECT with 0x88
   * (3.x: return code 3), PUBLISH/SUBSCRIBE with 0x80. */

  /* A CONNECT (without an Authentication Method). DENY reasons: 0x86, 0x87, 0x8A, ... */
  ringmq_decision (*authenticate)(void* core_plugin_ptr, const ringmq_client* client,
                                  const ringmq_connect* connect, uint64_t ticket);
  /* 5.0 enhanced authentication: a CONNECT with an Authentication Method (step 0) and each
   * AUTH of the exchange. Answer CONTINUE (with host->auth_reply data: AUTH 0x18 goes to the
   * client, whose next AUTH is the next step), ALLOW (CONNACK), DENY, or PENDING. A plugin
   * that does not know the method answers DENY 0x8C; when no plugin implements this hook a
   * CONNECT with a method is refused with 0x8C. Plugins are asked in order until one does
   * not answer DENY 0x8C. */
  ringmq_decision (*auth_step)(void* core_plugin_ptr, const ringmq_client* client,
                               const ringmq_auth_step* step, ringmq_auth_reply* reply,
                               uint64_t ticket);
  /* A PUBLISH before it is routed, and a CONNECT's will (will = true) before the CONNECT is
   * accepted. DENY: 5.0 PUBACK/PUBREC with the reason (0x87), the message is not delivered;
   * a refused will refuses the CONNECT.  The will's decision is asked together with
   * authenticate, not after it: a CONNECT is accepted only when both allow. */
  ringmq_decision (*authorize_publish)(void* core_plugin_ptr, const ringmq_client* client,
                                       const ringmq_message* message, bool will, uint64_t ticket);
  /* Each topic filter of a SUBSCRIBE ("$share/group/..." as sent). DENY: that filter's
   * SUBACK code is the reason (5.0, e.g. 0x87) or 0x80 (3.x). */
  ringmq_decision (*authorize_subscribe)(void* core_plugin_ptr, const ringmq_client* client,
                                         ringmq_str filter, uint32_t qos, uint64_t ticket);

  /* Events (shard thread). */
  /* A message accepted from a client (or from host->publish), once, before delivery. A
   * message of host->publish has a publisher whose client id is empty; its events come
   * during the host->publish call, inside the hook that made it. */
  void (*on_message_published)(void* core_plugin_ptr, const ringmq_client* publisher,
                               const ringmq_message* message);
  /* A message written to a subscriber's connection (first sending; resends are not
   * events). `message->qos` is the QoS it is delivered with. */
  void (*on_message_delivered)(void* core_plugin_ptr, const ringmq_client* receiver,
                               const ringmq_message* message);
  /* A message that will not reach a subscriber, and why (RINGMQ_DROP_*). */
  void (*on_message_dropped)(void* core_plugin_ptr, const ringmq_client* receiver,
                             const ringmq_message* message, uint32_t reason);
  /* A client was accepted (after CONNACK) / its connection ended. */
  void (*on_client_connected)(void* core_plugin_ptr, const ringmq_client* client);
  void (*on_client_disconnected)(void* core_plugin_ptr, const ringmq_client* client);
  /* Every tick_interval_ms (descriptor) on every shard. now_ms: a monotonic clock. */
  void (*on_tick)(void* core_plugin_ptr, int64_t now_ms);

  /* ---- 1.1: transports ---------------------------------------------------------------- */
  /* A plugin whose descriptor names a transport_protocol sits between the socket and MQTT
   * on every connection accepted on a listener with that protocol (`protocol = "websocket"`
   * in [[listener]], or --listen ws://HOST:PORT). The broker still does all socket I/O on its
   * shards; the transport only transforms bytes: what was read goes through
   * transport_inbound before MQTT sees it, and what MQTT wrote goes through
   * transport_outbound once per flush (so one frame carries every packet of a loop
   * iteration, not one packet each).
   * A connection's transport state is used by one thread at a time, but not always the same
   * one: a client moves to the shard of its session (by client id) after its CONNECT, and
   * its transport state moves with it. So the state must not point into the per-core state
   * of the shard that opened it, and must not be shared between connections without locks. */

  /* Shard thread. A connection was accepted: returns its transport state (NULL: the
   * connection is closed at once). */
  void* (*transport_open)(void* core_plugin_ptr, const ringmq_transport_conn* conn);
  /* Bytes read from the socket, in order (`in` is valid for the call). Append the MQTT bytes
   * they carry to `app` (nothing while a handshake is on) and anything to send back (a
   * handshake answer, a pong, a close frame) to `wire`, with host->bytes_append. Returns a
   * RINGMQ_TRANSPORT_* value. With RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE, the `app` bytes of
   * the same call still reach MQTT (a DISCONNECT before a WebSocket Close). */
  uint32_t (*transport_inbound)(void* transport_plugin_ptr, ringmq_str in, ringmq_bytes* app,
                                ringmq_bytes* wire);
  /* What MQTT wrote since the last flush, as `part_count` views in order (valid for the
   * call): append it, framed, to `wire`. Usually one call per flush; a flush of more than 64
   * parts (many large messages at once) comes in several calls of at most 64. Returns a
   * RINGMQ_TRANSPORT_* value. */
  uint32_t (*transport_outbound)(void* transport_plugin_ptr, const ringmq_str* parts,
                                 size_t part_count, ringmq_bytes* wire);
  /* The broker is closing the connection in an orderly way (after a DISCONNECT, a protocol
   * error, shutdown): the last chance to append to `wire` (a close frame). Not called when
   * the transport itself asked to close, nor when the peer vanished. May be NULL. */
  void (*transport_closing)(void* transport_plugin_ptr, ringmq_bytes* wire);
  /* The connection is gone: free the state. Called once for every state transport_open
   * returned, on the thread of the shard the connection was last on - or, at shutdown, on the
   * main thread for connections still open or moving between shards then. At shutdown the
   * transport hooks of lingering connections may come after core_fini (never after
   * global_fini): the state must not need the core state. */
  void (*transport_close)(void* transport_plugin_ptr);
} ringmq_plugin_hooks;

/* What the entry point returns. Static storage is the usual choice. */
typedef struct ringmq_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor; /* RINGMQ_PLUGIN_ABI_MAJOR, RINGMQ_PLUGIN_ABI_MINOR */
  ringmq_str name;               /* e.g. "auth_file" */
  ringmq_str version;            /* the plugin's own version, for the log */
  const ringmq_plugin_hooks* hooks;
  uint32_t tick_interval_ms; /* on_tick period; 0: 1000 */
  /* 1.1: the listener protocol this plugin serves as a transport (e.g. "websocket"), or
   * empty. At most one loaded plugin serves a protocol. */
  ringmq_str transport_protocol;
} ringmq_plugin_descriptor;

/* The entry point, called once on the main thread right after dlopen. Return NULL to refuse
 * to run in this host (for example when host->abi_minor is older than what you need). */
typedef const ringmq_plugin_descriptor* (*ringmq_plugin_entry_fn)(const ringmq_host_api* host);
#define RINGMQ_PLUGIN_ENTRY_SYMBOL "ringmq_plugin_entry"

RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host);

/* Small helpers for decisions. */
static inline ringmq_decision ringmq_allow(void) {
  ringmq_decision d = {RINGMQ_ALLOW, 0};
  return d;
}
static inline ringmq_decision ringmq_deny(uint32_t reason) {
  ringmq_decision d = {RINGMQ_DENY, reason};
  return d;
}
static inline ringmq_decision ringmq_pending(void) {
  ringmq_decision d = {RINGMQ_PENDING, 0};
  return d;
}
static inline ringmq_decision ringmq_continue(void) {
  ringmq_decision d = {RINGMQ_CONTINUE, 0};
  return d;
}
static inline ringmq_str ringmq_str_of(const char* nul_terminated) {
  ringmq_str s = {nul_terminated, 0};
  while (nul_terminated != NULL && nul_terminated[s.len] != '\0') {
    ++s.len;
  }
  return s;
}

#ifdef __cplusplus
}
#endif

#endif /* RINGMQ_PLUGIN_H */
