/* A transport plugin for the host's ABI tests (abi_test.py), in plain C11: it serves the
 * listener protocol "websocket" (so a ws:// listener uses it when it is configured) with a toy
 * protocol that makes each rule of plugin.h's transport hooks visible on the wire:
 *   handshake  the client's first bytes must be "HELLO\n"; the answer is "WELCOME\n". Any
 *              other first line gets "NO\n" and RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE; a line
 *              "DROP\n" gets RINGMQ_TRANSPORT_CLOSE (nothing sent).
 *   inbound    after the handshake every byte is XORed with 0x5A before MQTT sees it.
 *   outbound   each transport_outbound call is one frame: a 4-byte big-endian length, then
 *              the MQTT bytes XORed with 0x5A (so a test counts frames per flush).
 *   closing    transport_closing appends a frame of length 0.
 * global_fini logs "transports opened N closed M" (every state closed exactly once). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringmq/plugin.h"

#define KEY 0x5A

static const ringmq_host_api* the_host;
static atomic_ulong opened, closed;

typedef struct {
  char line[16]; /* the handshake line so far */
  size_t line_len;
  int ready;
} conn_state;

static void log_line(const char* text) {
  the_host->log(the_host, RINGMQ_LOG_INFO, ringmq_str_of(text));
}

static void* global_init(const ringmq_host_api* host, const ringmq_plugin_config* cfg, char* error,
                         size_t error_size) {
  (void)cfg;
  (void)error;
  (void)error_size;
  the_host = host;
  return &the_host;
}

static void global_fini(void* p) {
  (void)p;
  char text[96];
  snprintf(text, sizeof text, "transports opened %lu closed %lu", atomic_load(&opened),
           atomic_load(&closed));
  log_line(text);
}

static void* transport_open(void* core, const ringmq_transport_conn* conn) {
  (void)core;
  if (conn->struct_size < sizeof *conn || conn->peer_address.len == 0) {
    return NULL;
  }
  conn_state* c = calloc(1, sizeof *c);
  if (c != NULL) {
    atomic_fetch_add(&opened, 1);
  }
  return c;
}

static void xor_append(ringmq_bytes* out, const char* data, size_t len) {
  uint8_t* dst = the_host->bytes_reserve(out, len);
  for (size_t i = 0; i < len; ++i) {
    dst[i] = (uint8_t)data[i] ^ KEY;
  }
}

/* Takes handshake bytes from `in` (advancing it); returns a RINGMQ_TRANSPORT_* value. */
static uint32_t handshake(conn_state* c, ringmq_str* in, ringmq_bytes* wire) {
  while (in->len > 0 && !c->ready) {
    const char ch = in->ptr[0];
    ++in->ptr;
    --in->len;
    if (c->line_len + 1 >= sizeof c->line) {
      the_host->bytes_append(wire, "NO\n", 3);
      return RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE;
    }
    c->line[c->line_len++] = ch;
    if (ch != '\n') {
      continue;
    }
    if (strncmp(c->line, "DROP\n", c->line_len) == 0) {
      return RINGMQ_TRANSPORT_CLOSE;
    }
    if (strncmp(c->line, "HELLO\n", c->line_len) != 0) {
      the_host->bytes_append(wire, "NO\n", 3);
      return RINGMQ_TRANSPORT_CLOSE_AFTER_WIRE;
    }
    the_host->bytes_append(wire, "WELCOME\n", 8);
    c->ready = 1;
  }
  return RINGMQ_TRANSPORT_OK;
}

static uint32_t transport_inbound(void* p, ringmq_str in, ringmq_bytes* app, ringmq_bytes* wire) {
  conn_state* c = p;
  if (!c->ready) {
    const uint32_t r = handshake(c, &in, wire);
    if (r != RINGMQ_TRANSPORT_OK) {
      return r;
    }
  }
  if (in.len > 0) {
    xor_append(app, in.ptr, in.len);
  }
  return RINGMQ_TRANSPORT_OK;
}

static void frame_header(ringmq_bytes* wire, size_t len) {
  const uint8_t head[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                           (uint8_t)len};
  the_host->bytes_append(wire, head, sizeof head);
}

static uint32_t transport_outbound(void* p, const ringmq_str* parts, size_t count,
                                   ringmq_bytes* wire) {
  (void)p;
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    total += parts[i].len;
  }
  frame_header(wire, total);
  for (size_t i = 0; i < count; ++i) {
    if (parts[i].len > 0) {
      xor_append(wire, parts[i].ptr, parts[i].len);
    }
  }
  return RINGMQ_TRANSPORT_OK;
}

static void transport_closing(void* p, ringmq_bytes* wire) {
  (void)p;
  frame_header(wire, 0);
}

static void transport_close(void* p) {
  atomic_fetch_add(&closed, 1);
  free(p);
}

static const ringmq_plugin_hooks hooks = {
    .struct_size = sizeof(ringmq_plugin_hooks),
    .global_init = global_init,
    .global_fini = global_fini,
    .transport_open = transport_open,
    .transport_inbound = transport_inbound,
    .transport_outbound = transport_outbound,
    .transport_closing = transport_closing,
    .transport_close = transport_close,
};

static const ringmq_plugin_descriptor descriptor = {
    .struct_size = sizeof(ringmq_plugin_descriptor),
    .abi_major = RINGMQ_PLUGIN_ABI_MAJOR,
    .abi_minor = RINGMQ_PLUGIN_ABI_MINOR,
    .name = {"test_transport", 14},
    .version = {"1", 1},
    .hooks = &hooks,
    .transport_protocol = {"websocket", 9},
};

RINGMQ_PLUGIN_EXPORT const ringmq_plugin_descriptor* ringmq_plugin_entry(
    const ringmq_host_api* host) {
  (void)host;
  return &descriptor;
}
