#include "bench/load/config.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "bench/load/payload.h"

namespace ringmq::bench {

std::string_view ScenarioName(Scenario s) {
  switch (s) {
    case Scenario::kPairs:
      return "pairs";
    case Scenario::kFanout:
      return "fanout";
    case Scenario::kFanin:
      return "fanin";
    case Scenario::kShared:
      return "shared";
    case Scenario::kConnect:
      return "connect";
    case Scenario::kEcho:
      return "echo";
    case Scenario::kOffline:
      return "offline";
    case Scenario::kHandshake:
      return "handshake";
  }
  return "?";
}

bool ParseScenario(std::string_view text, Scenario* out) {
  for (Scenario s :
       {Scenario::kPairs, Scenario::kFanout, Scenario::kFanin, Scenario::kShared,
        Scenario::kConnect, Scenario::kEcho, Scenario::kOffline, Scenario::kHandshake}) {
    if (text == ScenarioName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

std::string_view ClientTransportName(ClientTransport t) {
  switch (t) {
    case ClientTransport::kTcp:
      return "tcp";
    case ClientTransport::kWebSocket:
      return "websocket";
    case ClientTransport::kTls:
      return "tls";
    case ClientTransport::kWss:
      return "wss";
  }
  return "?";
}

bool ParseClientTransport(std::string_view text, ClientTransport* out) {
  if (text == "tcp") {
    *out = ClientTransport::kTcp;
  } else if (text == "websocket" || text == "ws") {
    *out = ClientTransport::kWebSocket;
  } else if (text == "tls" || text == "mqtts") {
    *out = ClientTransport::kTls;
  } else if (text == "wss") {
    *out = ClientTransport::kWss;
  } else {
    return false;
  }
  return true;
}

bool ParseMqttVersion(std::string_view text, mqtt::ProtocolVersion* out) {
  if (text == "3.1") {
    *out = mqtt::ProtocolVersion::kMqtt31;
  } else if (text == "3.1.1" || text == "311" || text == "4") {
    *out = mqtt::ProtocolVersion::kMqtt311;
  } else if (text == "5" || text == "5.0") {
    *out = mqtt::ProtocolVersion::kMqtt5;
  } else {
    return false;
  }
  return true;
}

uint32_t EffectiveE2eWindow(const BenchConfig& config) {
  // offline: nobody receives while publishers publish; the acknowledgements pace them.
  if (config.rate > 0 || config.scenario == Scenario::kOffline) {
    return 0;
  }
  if (config.e2e_window < 0) {
    return config.inflight;
  }
  return static_cast<uint32_t>(config.e2e_window);
}

namespace {

uint32_t Or(uint32_t v, uint32_t dflt) {
  return v != 0 ? v : dflt;
}

absl::Status Validate(const BenchConfig& c) {
  if (c.payload_bytes < kPayloadHeaderSize) {
    return absl::InvalidArgumentError(
        absl::StrFormat("--payload must be at least %d bytes (the header)", kPayloadHeaderSize));
  }
  if (c.payload_bytes > 64 * 1024 * 1024) {
    return absl::InvalidArgumentError("--payload: at most 64 MiB");
  }
  if (c.inflight == 0 || c.inflight > 65535) {
    return absl::InvalidArgumentError("--inflight must be in 1..65535");
  }
  if (c.duration_s <= 0 || c.warmup_s < 0) {
    return absl::InvalidArgumentError("--duration must be > 0 and --warmup >= 0");
  }
  if (c.threads == 0 || c.threads > 64) {
    return absl::InvalidArgumentError("--threads must be in 1..64");
  }
  if (c.version == mqtt::ProtocolVersion::kMqtt31 && c.client_prefix.size() > 16) {
    return absl::InvalidArgumentError("MQTT 3.1 client ids are at most 23 bytes");
  }
  if (c.drain_offline && c.scenario != Scenario::kOffline) {
    return absl::InvalidArgumentError("--drain_offline: only with --scenario offline");
  }
  if (c.transport != ClientTransport::kTcp && c.scenario == Scenario::kEcho) {
    return absl::InvalidArgumentError(
        "--transport: only tcp with --scenario echo (the echo server speaks raw TCP)");
  }
  if (!UsesTls(c.transport) && !(c.tls_ca.empty() && c.tls_cert.empty() && c.tls_key.empty())) {
    return absl::InvalidArgumentError(
        "--tls_ca, --tls_cert, --tls_key: only with --transport "
        "tls or wss");
  }
  if (c.scenario == Scenario::kHandshake && c.connect_rate > 0) {
    return absl::InvalidArgumentError(
        "--connect_rate: not with --scenario handshake (its clients reconnect at once)");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  if (UsesWebSocket(c.transport)) {
    // The request target goes into the request line as is: an origin-form path of visible
    // ASCII (RFC 9112 3.2.1).
    const bool visible = std::all_of(c.ws_path.begin(), c.ws_path.end(),
                                     [](char ch) { return ch > ' ' && ch < 0x7f; });
    if (c.ws_path.empty() || c.ws_path[0] != '/' || !visible) {
      return absl::InvalidArgumentError(
          "--ws_path: a path starting with '/', visible ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

// offline: QoS 1/2 only (the acknowledgement is what it measures), and groups that split the
// subscribers evenly, so that every message has the same number of queued copies.
absl::Status ValidateOffline(const BenchConfig& c, uint32_t subscribers) {
  if (c.qos == mqtt::Qos::k0) {
    return absl::InvalidArgumentError("offline: --qos must be 1 or 2 (QoS 0 is not queued)");
  }
  if (c.offline_groups == 0 || c.offline_groups > subscribers ||
      subscribers % c.offline_groups != 0) {
    return absl::InvalidArgumentError(
        "offline: --offline_groups must divide --subscribers (and be at least 1)");
  }
  if (c.drain_offline_timeout_s <= 0) {
    return absl::InvalidArgumentError("offline: --drain_offline_timeout must be > 0");
  }
  return absl::OkStatus();
}

std::string ClientPrefix(const BenchConfig& c) {
  return c.client_prefix.empty() ? absl::StrCat("rb", ::getpid()) : c.client_prefix;
}

// `connect`, `handshake` and `echo`: N connections of one role.
Plan ConnectionsOnly(const BenchConfig& c) {
  Plan plan;
  plan.threads = c.threads;
  const std::string prefix = ClientPrefix(c);
  const bool echo = c.scenario == Scenario::kEcho;
  const uint32_t n = Or(c.connections, c.scenario == Scenario::kConnect ? 1000 : 100);
  for (uint32_t i = 0; i < n; ++i) {
    ClientSpec spec;
    spec.role = echo ? Role::kEcho : Role::kIdle;
    spec.index = i;
    spec.client_id = absl::StrCat(prefix, "c", i);
    if (echo) {
      spec.topic = absl::StrCat(c.topic_prefix, "/", i);
    }
    plan.clients.push_back(std::move(spec));
  }
  plan.publishers = echo ? n : 0;
  return plan;
}

// What subscriber i subscribes to and publisher i publishes on, per scenario.
void RouteSubscriber(const BenchConfig& c, uint32_t i, ClientSpec* spec) {
  const std::string& t = c.topic_prefix;
  spec->receives_all = c.scenario != Scenario::kPairs;
  switch (c.scenario) {
    case Scenario::kPairs:
      spec->filter = absl::StrCat(t, "/", i);
      break;
    case Scenario::kFanout:
      spec->filter = absl::StrCat(t, "/fanout");
      break;
    case Scenario::kFanin:
      spec->filter = absl::StrCat(t, "/#");
      break;
    case Scenario::kShared:
      spec->filter = absl::StrCat("$share/", c.shared_group, "/", t, "/shared");
      break;
    case Scenario::kOffline:
      spec->offline = true;
      spec->group = i % c.offline_groups;
      spec->filter = c.offline_groups == 1 ? absl::StrCat(t, "/offline/#")
                                           : absl::StrCat(t, "/offline/", spec->group, "/#");
      break;
    case Scenario::kConnect:
    case Scenario::kEcho:
    case Scenario::kHandshake:
      break;
  }
}

void RoutePublisher(const BenchConfig& c, uint32_t i, ClientSpec* spec) {
  const std::string& t = c.topic_prefix;
  switch (c.scenario) {
    case Scenario::kPairs:
    case Scenario::kFanin:
      spec->topic = absl::StrCat(t, "/", i);
      break;
    case Scenario::kFanout:
      spec->topic = absl::StrCat(t, "/fanout");
      break;
    case Scenario::kShared:
      spec->topic = absl::StrCat(t, "/shared");
      break;
    case Scenario::kOffline:
      spec->group = i % c.offline_groups;
      spec->topic = c.offline_groups == 1 ? absl::StrCat(t, "/offline/", i)
                                          : absl::StrCat(t, "/offline/", spec->group, "/", i);
      break;
    case Scenario::kConnect:
    case Scenario::kEcho:
    case Scenario::kHandshake:
      break;
  }
}

}  // namespace

absl::StatusOr<Plan> MakePlan(const BenchConfig& c) {
  if (absl::Status s = Validate(c); !s.ok()) {
    return s;
  }
  if (c.scenario == Scenario::kConnect || c.scenario == Scenario::kEcho ||
      c.scenario == Scenario::kHandshake) {
    return ConnectionsOnly(c);
  }
  Plan plan;
  plan.threads = c.threads;
  uint32_t p = 0;
  uint32_t s = 0;
  switch (c.scenario) {
    case Scenario::kPairs:
      p = s = Or(c.pairs, Or(c.publishers, 100));
      if (c.subscribers != 0 && c.subscribers != p) {
        return absl::InvalidArgumentError("pairs: --subscribers must equal --publishers");
      }
      plan.fan = 1;
      break;
    case Scenario::kFanout:
      p = Or(c.publishers, 1);
      s = Or(c.subscribers, 100);
      plan.fan = s;
      break;
    case Scenario::kFanin:
      p = Or(c.publishers, 100);
      s = Or(c.subscribers, 1);
      plan.fan = s;
      break;
    case Scenario::kShared:
      p = Or(c.publishers, 10);
      s = Or(c.subscribers, 10);
      plan.fan = 1;
      plan.shared = true;
      break;
    case Scenario::kOffline:
      p = Or(c.publishers, 100);
      s = Or(c.subscribers, 10);
      if (absl::Status v = ValidateOffline(c, s); !v.ok()) {
        return v;
      }
      plan.fan = s / c.offline_groups;
      plan.offline = true;
      plan.groups = c.offline_groups;
      break;
    case Scenario::kConnect:
    case Scenario::kEcho:
    case Scenario::kHandshake:
      break;
  }
  const std::string prefix = ClientPrefix(c);
  plan.publishers = p;
  plan.subscribers = s;
  plan.first_publisher = s;
  plan.clients.reserve(p + s);
  for (uint32_t i = 0; i < s; ++i) {
    ClientSpec spec;
    spec.role = Role::kSubscriber;
    spec.index = i;
    spec.client_id = absl::StrCat(prefix, "s", i);
    RouteSubscriber(c, i, &spec);
    plan.clients.push_back(std::move(spec));
  }
  for (uint32_t i = 0; i < p; ++i) {
    ClientSpec spec;
    spec.role = Role::kPublisher;
    spec.index = i;
    spec.client_id = absl::StrCat(prefix, "p", i);
    RoutePublisher(c, i, &spec);
    plan.clients.push_back(std::move(spec));
  }
  return plan;
}

}  // namespace ringmq::bench
