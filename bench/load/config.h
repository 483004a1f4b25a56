// The load tool's configuration and the plan derived from it: which connections to open,
// what each one publishes or subscribes to, and how many subscribers receive each message.
// Pure values; built on the main thread, then read (never written) by every shard.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "core/mqtt/types.h"
#include "core/net/reactor.h"

namespace ringmq::bench {

enum class Scenario : uint8_t {
  kPairs,      // publisher i -> topic {prefix}/i -> subscriber i
  kFanout,     // P publishers -> {prefix}/fanout -> S subscribers
  kFanin,      // P publishers on {prefix}/i -> S subscribers on {prefix}/#
  kShared,     // P publishers -> {prefix}/shared -> $share/g/{prefix}/shared, S members
  kConnect,    // N connections, CONNECT/CONNACK, then idle (PINGREQ only)
  kEcho,       // N raw TCP connections to an echo server, PUBLISH-sized frames, no MQTT session
  kOffline,    // S persistent subscribers subscribe and go offline; P publishers fill their
               // queues at QoS 1/2 (measures the PUBLISH -> PUBACK path into offline queues)
  kHandshake,  // N clients, each in a loop: connect (TLS handshake), CONNECT/CONNACK,
               // DISCONNECT, close, connect again (measures new connections per second)
};

// What carries MQTT between the tool and the broker (--transport).
enum class ClientTransport : uint8_t {
  kTcp,        // MQTT straight on TCP
  kWebSocket,  // MQTT in WebSocket Binary frames (ws_client_transport.h)
  kTls,        // MQTT in TLS (tls_client.h)
  kWss,        // MQTT in WebSocket frames in TLS
};

inline bool UsesTls(ClientTransport t) {
  return t == ClientTransport::kTls || t == ClientTransport::kWss;
}
inline bool UsesWebSocket(ClientTransport t) {
  return t == ClientTransport::kWebSocket || t == ClientTransport::kWss;
}

std::string_view ScenarioName(Scenario s);
std::string_view ClientTransportName(ClientTransport t);
bool ParseClientTransport(std::string_view text, ClientTransport* out);
bool ParseScenario(std::string_view text, Scenario* out);
// "3.1", "3.1.1" (or "4", "311"), "5" (or "5.0").
bool ParseMqttVersion(std::string_view text, mqtt::ProtocolVersion* out);

struct BenchConfig {
  Scenario scenario = Scenario::kPairs;
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  ClientTransport transport = ClientTransport::kTcp;
  std::string ws_path = "/mqtt";  // websocket: the request target of the opening handshake
  // tls, wss: PEM files. tls_ca: verify the broker's certificate against it (and that it
  // names --host); empty: no verification. tls_cert + tls_key: a client certificate (mTLS).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::kMqtt311;
  mqtt::Qos qos = mqtt::Qos::k0;
  uint32_t payload_bytes = 64;  // >= kPayloadHeaderSize
  double duration_s = 5;
  double warmup_s = 1;
  // Connection counts; 0 means the scenario's default (see MakePlan).
  uint32_t pairs = 0;
  uint32_t publishers = 0;
  uint32_t subscribers = 0;
  uint32_t connections = 0;
  double rate = 0;                     // messages/s per publisher; 0: as fast as the windows allow
  uint64_t messages = 0;               // per publisher, then it stops; 0: until the window ends
  uint32_t inflight = 16;              // unacknowledged QoS>0 PUBLISHes per publisher
  int64_t e2e_window = -1;             // messages sent and not yet received, per publisher and
                                       // subscriber (rate 0 only); -1: same as inflight; 0: off
  double connect_rate = 0;             // new connections per second (all shards); 0: unlimited
  uint32_t connect_concurrency = 100;  // connections in progress (before CONNACK) at once
  uint32_t threads = 1;
  bool pin_threads = false;
  net::BackendKind backend = net::BackendKind::kAuto;
  uint32_t recv_buffer_size = 65536;
  pid_t broker_pid = 0;
  bool clean = true;                 // Clean Session (3.x) / Clean Start (5)
  uint32_t session_expiry_s = 3600;  // MQTT 5, when !clean
  uint16_t keepalive_s = 60;
  std::string topic_prefix = "bench";
  std::string client_prefix;            // empty: "rb<pid>"
  std::optional<std::string> username;  // every client sends these in CONNECT when set
  std::optional<std::string> password;
  std::string shared_group = "g";
  bool strict = false;  // QoS 0 loss fails the run too
  double drain_s = 5;   // at most this long after the window for late messages
  double connect_timeout_s = 60;
  bool progress = true;  // the per-second line on stderr
  // offline: subscriber s and publisher p are in group (index % offline_groups); a
  // subscriber takes the messages of its group's publishers (fan = S / groups).
  uint32_t offline_groups = 1;
  bool drain_offline = false;           // offline: reconnect the subscribers afterwards
  double drain_offline_timeout_s = 60;  // and wait at most this long for their queues
};

enum class Role : uint8_t { kSubscriber, kPublisher, kIdle, kEcho };

struct ClientSpec {
  Role role = Role::kIdle;
  uint32_t index = 0;  // within its role; for publishers the global publisher id
  std::string client_id;
  std::string topic;   // publisher / echo: where it publishes
  std::string filter;  // subscriber: what it subscribes to
  // Subscriber: it receives every publisher's messages (fanout, fanin, shared), or only
  // those of publisher `index` (pairs).
  bool receives_all = false;
  // offline: a persistent subscriber that goes offline once subscribed; it hears only the
  // publishers of its group (publisher id % groups == group).
  bool offline = false;
  uint32_t group = 0;
};

struct Plan {
  // Subscribers first (they must be subscribed before anyone publishes), then publishers;
  // client k runs on shard k % threads.
  std::vector<ClientSpec> clients;
  uint32_t publishers = 0;
  uint32_t subscribers = 0;
  // Subscribers that receive each published message (pairs 1, fanout/fanin S, shared 1,
  // echo 1): expected deliveries = sent * fan.
  uint32_t fan = 1;
  bool shared = false;  // deliveries are split among subscribers (progress counts arrivals)
  // offline: subscribers are parked (offline) while publishers publish; success is the
  // publisher's acknowledgement, and deliveries happen only with --drain_offline.
  bool offline = false;
  uint32_t groups = 1;  // offline: see BenchConfig::offline_groups
  uint32_t threads = 1;
  // Index in `clients` of publisher p.
  uint32_t first_publisher = 0;

  uint32_t ShardOf(uint32_t client) const { return client % threads; }
  uint32_t ShardOfPublisher(uint32_t p) const { return ShardOf(first_publisher + p); }
};

// Validates the configuration and derives the plan.
absl::StatusOr<Plan> MakePlan(const BenchConfig& config);

// The e2e window in effect (0: off): only when publishers run unthrottled.
uint32_t EffectiveE2eWindow(const BenchConfig& config);

}  // namespace ringmq::bench
