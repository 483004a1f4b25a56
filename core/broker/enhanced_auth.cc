// MQTT 5.0 enhanced authentication [MQTT-4.12]: a CONNECT that names an Authentication
// Method starts an exchange of AUTH packets decided step by step by the hooks (OnAuthStep);
// only when it succeeds are the CONNECT's other decisions (the will) asked, and the CONNACK
// carries the method and the last step's data. Once connected, the client may
// re-authenticate (AUTH 0x19) with the same method while its other packets go on.
//
// Before CONNACK the CONNECT stays at the front of `held` (FinishConnect reads it again);
// AUTH packets that arrive behind it are taken out of `held` one at a time.
#include <errno.h>

#include "core/base/log.h"
#include "core/broker/broker_shard.h"
#include "core/mqtt/decoder.h"

namespace ringmq::broker {

using mqtt::ReasonCode;

void BrokerShard::StartEnhancedAuth(Connection& c, const mqtt::Connect& pkt) {
  c.auth = std::make_unique<AuthExchange>();
  c.auth->method = std::string(pkt.properties.authentication_method);
  c.auth->client_id = c.assigned_id ? *c.assigned_id : std::string(pkt.client_id);
  RunAuthStep(c, pkt.properties.authentication_data);
}

void BrokerShard::RunAuthStep(Connection& c, std::string_view data) {
  AuthExchange& a = *c.auth;
  ClientInfo ci = ClientInfoOf(c);
  if (!a.done) {
    ci.client_id = a.client_id;  // no session yet
  }
  const uint64_t ticket = NewToken();
  AuthStepResult res = hooks()->OnAuthStep({ci, a.method, data, a.step, a.reauth}, ticket);
  if (res.decision.verdict == Verdict::kPending) {
    auth_tickets_[ticket] = c.conn->id();
    decision_deadlines_.emplace_back(now_ms() + config().decision_timeout_ms, ticket);
    if (!decision_timer_.armed()) {
      shard_.timers().Schedule(&decision_timer_, decision_deadlines_.front().first);
    }
    return;
  }
  ApplyAuthStep(c, res.decision, std::move(res.data));
}

void BrokerShard::ApplyAuthStep(Connection& c, Decision d, std::string data) {
  AuthExchange& a = *c.auth;
  switch (d.verdict) {
    case Verdict::kContinue:
      ++a.step;
      a.awaiting_client = true;
      WriteAuth(c, ReasonCode::kContinueAuthentication, data);  // [MQTT-4.12.0-2]
      if (!a.reauth) {
        TryAuthPacket(c);  // it may be here already
      }
      return;
    case Verdict::kAllow:
      if (a.reauth) {
        a.reauth = false;
        a.step = 0;
        WriteAuth(c, ReasonCode::kSuccess, data);  // re-authenticated: AUTH 0x00
        return;
      }
      a.done = true;
      a.connack_data = std::move(data);
      AuthenticatedConnect(c);
      return;
    default: {
      const ReasonCode rc = d.verdict == Verdict::kDeny ? d.reason : ReasonCode::kUnspecifiedError;
      if (a.reauth) {
        Disconnect(c, rc, "re-authentication failed",
                   /*publish_will=*/true);  // [MQTT-4.12.1-2]
      } else {
        RefuseConnect(c, c.version, rc, "enhanced authentication failed");
      }
      return;
    }
  }
}

void BrokerShard::WriteAuth(Connection& c, ReasonCode rc, std::string_view data) {
  mqtt::Auth a;
  a.reason = rc;
  a.properties.SetAuthenticationMethod(c.auth->method);  // [MQTT-4.12.0-5]
  if (!data.empty()) {
    a.properties.SetAuthenticationData(data);
  }
  Write(c, a);
}

void BrokerShard::AuthenticatedConnect(Connection& c) {
  mqtt::Connect pkt;
  HeldConnect(c, &pkt);
  PendingResponse& r = AddResponse(c, PendingResponse::Kind::kConnack, 0);
  AskConnectDecisions(c, r, pkt);  // the will; the method stood for authentication
  Defer(c, r);
  FlushResponses(c);
}

void BrokerShard::TryAuthPacket(Connection& c) {
  const size_t at = HeldConnect(c, nullptr).packet_size();
  std::string& held = c.Held();
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  std::span<const uint8_t> rest = all.subspan(at);
  mqtt::FixedHeader h;
  switch (mqtt::ParseFixedHeader(rest, config().max_packet_size, &h)) {
    case mqtt::FrameStatus::kNeedMore:
      return;
    case mqtt::FrameStatus::kMalformed:
      RefuseConnect(c, c.version, ReasonCode::kMalformedPacket, "bad fixed header in AUTH");
      return;
    case mqtt::FrameStatus::kTooLarge:
      RefuseConnect(c, c.version, ReasonCode::kPacketTooLarge, "AUTH too large");
      return;
    case mqtt::FrameStatus::kOk:
      break;
  }
  if (rest.size() < h.packet_size()) {
    return;
  }
  if (h.type == mqtt::PacketType::kDisconnect) {
    CloseConnection(c, net::CloseMode::kNow, 0);
    return;
  }
  if (h.type != mqtt::PacketType::kAuth) {
    RefuseConnect(c, c.version, ReasonCode::kProtocolError,
                  "a packet other than AUTH during enhanced authentication");
    return;
  }
  mqtt::Auth p;
  mqtt::DecodeStatus s =
      mqtt::DecodeAuth(c.version, h, rest.subspan(h.header_size, h.remaining_length), &p);
  if (s.ok() && (p.reason != ReasonCode::kContinueAuthentication ||
                 p.properties.authentication_method != c.auth->method)) {
    s = mqtt::DecodeStatus::Protocol(
        "AUTH must continue (0x18) with the CONNECT's Authentication Method [MQTT-4.12.0-5]");
  }
  if (!s.ok()) {
    RefuseConnect(c, c.version, s.reason, s.detail);
    return;
  }
  const std::string data(p.properties.authentication_data);
  held.erase(at, h.packet_size());
  c.auth->awaiting_client = false;
  RunAuthStep(c, data);
}

mqtt::DecodeStatus BrokerShard::HandleAuth(Connection& c, const mqtt::Auth& p) {
  if (c.auth == nullptr || !c.auth->done) {
    return mqtt::DecodeStatus::Protocol(
        "AUTH from a client that did not authenticate with a method [MQTT-4.12.0-7]");
  }
  AuthExchange& a = *c.auth;
  if (p.properties.authentication_method != a.method) {
    return mqtt::DecodeStatus::Protocol(
        "re-authentication with another Authentication Method [MQTT-4.12.1-1]");
  }
  const bool start = p.reason == ReasonCode::kReAuthenticate && !a.reauth;
  const bool next =
      p.reason == ReasonCode::kContinueAuthentication && a.reauth && a.awaiting_client;
  if (!start && !next) {
    return mqtt::DecodeStatus::Protocol("an AUTH out of turn [MQTT-4.12.1-1]");
  }
  if (start) {
    a.reauth = true;
    a.step = 0;
  }
  a.awaiting_client = false;
  RunAuthStep(c, p.properties.authentication_data);
  return {};
}

bool BrokerShard::TakeAuthCompletion(DecisionMsg& m) {
  auto it = auth_tickets_.find(m.ticket);
  if (it == auth_tickets_.end()) {
    return false;
  }
  Connection* c = FindConnection(it->second);
  auth_tickets_.erase(it);
  if (c != nullptr && c->auth != nullptr && c->state != Connection::State::kClosing) {
    ApplyAuthStep(*c, m.decision, m.auth_data ? std::move(*m.auth_data) : std::string());
  }
  return true;
}

bool BrokerShard::ExpireAuthStep(uint64_t ticket) {
  auto it = auth_tickets_.find(ticket);
  if (it == auth_tickets_.end()) {
    return false;
  }
  Connection* c = FindConnection(it->second);
  auth_tickets_.erase(it);
  ShardCounters::Add(counters().decision_timeouts, 1);
  if (c != nullptr && c->auth != nullptr && c->state != Connection::State::kClosing) {
    ApplyAuthStep(*c, Decision::Deny(ReasonCode::kServerUnavailable), {});
  }
  return true;
}

}  // namespace ringmq::broker
