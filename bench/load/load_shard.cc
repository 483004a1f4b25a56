#include "bench/load/load_shard.h"

#include <errno.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_format.h"

#include "bench/load/payload.h"
#include "core/base/asserts.h"
#include "core/base/log.h"
#include "core/mqtt/encoder.h"
#include "core/net/stacked_transport.h"

namespace ringmq::bench {
namespace {

// Messages one publisher writes per loop iteration at most: bounds the burst a single
// connection adds to its output queue before the engine gets to send it.
constexpr uint64_t kMaxBatch = 512;
// A filler longer than this is referenced from one shared buffer, not copied per message.
constexpr size_t kShareTailBytes = 1024;
// An end-to-end window that saw no progress for this long is given up on: the messages
// it waits for were lost (QoS 0 drops at the end of a stream leave no later arrival
// that would reveal the gap).
constexpr uint64_t kStallNs = 1'000'000'000;
constexpr int64_t kHousekeepingMs = 100;

int64_t CeilMs(uint64_t ns) {
  return static_cast<int64_t>((ns + 999'999) / 1'000'000);
}

}  // namespace

LoadShard::LoadShard(shard::Shard& shard, RunContext& ctx)
    : shard_(shard),
      ctx_(ctx),
      config_(*ctx.config),
      plan_(*ctx.plan),
      slot_(*ctx.slots[shard.index()]),
      version_(ctx.config->version),
      e2e_window_(ctx.e2e_window) {
  housekeeping_timer_.shard = this;
  second_timer_.shard = this;
  window_end_timer_.shard = this;
  start_timer_.shard = this;
  const uint32_t threads = plan_.threads;
  const auto total = static_cast<uint32_t>(plan_.clients.size());
  const uint32_t index = shard.index();
  clients_.reserve(total / threads + 1);  // pointers into clients_ must stay valid
  for (uint32_t k = index; k < total; k += threads) {
    clients_.emplace_back();
    clients_.back().spec = &plan_.clients[k];
  }
  connect_end_ = clients_.size();
  publisher_by_id_.assign(plan_.publishers, nullptr);
  pending_progress_.assign(plan_.publishers, 0);
  for (Client& cl : clients_) {
    const ClientSpec& spec = *cl.spec;
    if (spec.role == Role::kPublisher || spec.role == Role::kEcho) {
      auto p = std::make_unique<Publisher>();
      p->client = &cl;
      p->id = spec.index;
      p->timer.shard = this;
      p->timer.pub = p.get();
      BuildPublisher(*p);
      cl.pub = p.get();
      publisher_by_id_[p->id] = p.get();
      publishers_.push_back(std::move(p));
    }
    if (spec.role == Role::kSubscriber || spec.role == Role::kEcho) {
      auto s = std::make_unique<Subscriber>();
      s->client = &cl;
      s->receives_all = spec.receives_all;
      s->only_publisher = spec.index;
      s->offline = spec.offline;
      s->group = spec.group;
      local_subscribers_ += spec.role == Role::kSubscriber ? 1 : 0;
      s->streams.resize(spec.receives_all ? plan_.publishers : 1);
      cl.sub = s.get();
      subscribers_.push_back(std::move(s));
    }
  }
  connect_concurrency_ =
      std::max<uint32_t>(1, (config_.connect_concurrency + threads - 1) / threads);
  if (config_.scenario == Scenario::kHandshake) {
    // Every client is one connection in a loop: all of them at once, from the start.
    connect_concurrency_ = static_cast<uint32_t>(clients_.size());
  }
  if (UsesWebSocket(config_.transport)) {
    ws_host_ = config_.host.find(':') != std::string::npos
                   ? absl::StrFormat("[%s]:%d", config_.host, config_.port)
                   : absl::StrFormat("%s:%d", config_.host, config_.port);
    std::random_device rd;
    ws_seed_ = (uint64_t{rd()} << 32 | rd()) ^ index;
  }
}

LoadShard::~LoadShard() = default;

mqtt::Qos LoadShard::PublishQos() const {
  // The echo server speaks no MQTT: it cannot acknowledge, so echo frames are QoS 0.
  return config_.scenario == Scenario::kEcho ? mqtt::Qos::k0 : config_.qos;
}

void LoadShard::BuildPublisher(Publisher& p) {
  const mqtt::Qos qos = PublishQos();
  std::string payload(config_.payload_bytes, '\0');
  for (size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>('a' + i % 26);
  }
  mqtt::Publish pk;
  pk.topic = p.client->spec->topic;
  pk.qos = qos;
  pk.packet_id = qos == mqtt::Qos::k0 ? 0 : 1;
  pk.payload = payload;
  const size_t size = mqtt::EncodedSize(pk, version_);
  std::vector<uint8_t> encoded(size);
  mqtt::Encode(pk, version_, encoded.data());
  p.id_offset = qos == mqtt::Qos::k0 ? 0 : mqtt::PublishPacketIdOffset(pk, version_);
  p.payload_offset = size - payload.size();  // the payload ends the packet
  const size_t head = p.payload_offset + kPayloadHeaderSize;
  if (size - head > kShareTailBytes) {
    p.head.assign(encoded.begin(), encoded.begin() + static_cast<ptrdiff_t>(head));
    p.tail = net::BufferRef::Adopt(
        net::Buffer::Copy(std::span<const uint8_t>(encoded.data() + head, size - head)));
  } else {
    p.head = std::move(encoded);
  }
  if (qos != mqtt::Qos::k0) {
    uint32_t slots = 1;
    while (slots < config_.inflight) {
      slots <<= 1;
    }
    p.slot_mask = slots - 1;
    p.slot_id.assign(slots, 0);
    p.slot_state.assign(slots, SlotState::kFree);
    p.slot_sent_ns.assign(slots, 0);
  }
  p.window = config_.inflight;
}

// --- timers ------------------------------------------------------------------------------

void LoadShard::ScheduleAt(net::Timer* t, uint64_t ns) {
  // The wheel fires a timer in its deadline's tick, possibly before the deadline itself;
  // one tick of slack makes every timer fire at or after its time.
  shard_.timers().Schedule(t, CeilMs(ns) + kTimerTickMs);
}

void LoadShard::OnStart() {
  shard_.timers().Schedule(&housekeeping_timer_, shard_.now_ms() + kHousekeepingMs);
  shard_.timers().Schedule(&second_timer_, shard_.now_ms() + 1000);
}

void LoadShard::OnPubTimer(net::Timer* t) {
  auto* pt = static_cast<PubTimer*>(t);
  pt->shard->Queue(*pt->pub);
}

void LoadShard::OnHousekeepingTimer(net::Timer* t) {
  LoadShard* self = static_cast<ShardTimer*>(t)->shard;
  self->CheckStalls(MonotonicNs());
  int64_t next = kHousekeepingMs;
  if (self->connecting_started_ && self->next_connect_ < self->connect_end_ &&
      self->config_.connect_rate > 0) {
    next = kTimerTickMs;  // rate-limited connecting: come back soon for the next tokens
  }
  self->shard_.timers().Schedule(t, self->shard_.now_ms() + next);
}

void LoadShard::OnSecondTimer(net::Timer* t) {
  LoadShard* self = static_cast<ShardTimer*>(t)->shard;
  self->SnapshotInterval();
  self->SendPings();
  self->shard_.timers().Schedule(t, self->shard_.now_ms() + 1000);
}

void LoadShard::OnStartTimer(net::Timer* t) {
  LoadShard* self = static_cast<ShardTimer*>(t)->shard;
  if (MonotonicNs() < self->t0_ns_) {
    self->ScheduleAt(t, self->t0_ns_);
    return;
  }
  for (auto& p : self->publishers_) {
    if (self->config_.rate > 0) {
      self->ScheduleAt(&p->timer, p->phase_ns);
    } else {
      self->Queue(*p);
    }
  }
}

void LoadShard::OnWindowEndTimer(net::Timer* t) {
  LoadShard* self = static_cast<ShardTimer*>(t)->shard;
  if (MonotonicNs() < self->w1_ns_) {
    self->ScheduleAt(t, self->w1_ns_);
    return;
  }
  // From now on no publisher of this shard sends (Pump checks the clock against w1), so
  // the window's counters are final; PublishLive tells the main thread.
  self->window_closed_ = true;
}

// --- connecting --------------------------------------------------------------------------

void LoadShard::StartConnects() {
  if (!connecting_started_ || stopping_) {
    return;
  }
  uint64_t allowed = UINT64_MAX;
  if (config_.connect_rate > 0) {
    const double per_shard_per_ns = config_.connect_rate / plan_.threads / 1e9;
    const uint64_t now = MonotonicNs();
    allowed =
        static_cast<uint64_t>(static_cast<double>(now - connect_begin_ns_) * per_shard_per_ns) + 1;
  }
  while (next_connect_ < connect_end_ && connecting_ < connect_concurrency_ &&
         connects_started_ < allowed) {
    const uint64_t tag = next_connect_++;
    StartConnect(clients_[tag], tag);
  }
}

void LoadShard::StartConnect(Client& cl, uint64_t tag) {
  cl.connect_start_ns = MonotonicNs();
  if (first_connect_ns_ == 0) {
    first_connect_ns_ = cl.connect_start_ns;
  }
  ++connects_started_;
  ++connecting_;
  cl.state = State::kConnecting;
  absl::Status s = shard_.reactor().Connect(ctx_.endpoint, tag);
  if (!s.ok()) {
    Fail(cl, absl::StrFormat("connect: %s", s.message()));
  }
}

bool LoadShard::InstallTransport(Client& cl, net::Conn& c) {
  // websocket: the transport sends the upgrade request with the CONNECT's flush and holds the
  // CONNECT until the 101. tls: the ClientHello goes with the first flush, which is held until
  // the handshake ends. wss: both, WebSocket inside TLS. connect_time_ms still runs to the
  // CONNACK, handshakes included.
  std::unique_ptr<net::Transport> ws;
  if (UsesWebSocket(config_.transport)) {
    auto t = std::make_unique<WsClientTransport>(WsClientTransport::Options{
        .host = ws_host_, .path = config_.ws_path, .seed = SplitMix64(&ws_seed_)});
    cl.ws = t.get();
    ws = std::move(t);
  }
  if (!UsesTls(config_.transport)) {
    if (ws != nullptr) {
      c.SetTransport(std::move(ws));
    }
    return true;
  }
  std::unique_ptr<TlsClientTransport> tls = TlsClientTransport::Create(ctx_.tls, config_.host);
  if (tls == nullptr) {
    cl.ws = nullptr;
    Fail(cl, "no TLS session (out of memory, or a --host the certificate check cannot use)");
    return false;
  }
  cl.tls = tls.get();
  if (ws != nullptr) {
    c.SetTransport(std::make_unique<net::StackedTransport>(std::move(tls), std::move(ws)));
  } else {
    c.SetTransport(std::move(tls));
  }
  return true;
}

void LoadShard::OnConnected(net::Conn& c, uint64_t tag, int err) {
  RINGMQ_ASSERT(tag < clients_.size());
  Client& cl = clients_[tag];
  if (err != 0) {
    // The engine closes the connection after this; its user pointer stays null, so the
    // OnClosed that follows is ignored.
    Fail(cl, absl::StrFormat("connect to %s failed: %s", ctx_.endpoint.ToString(),
                             std::strerror(-err)));
    return;
  }
  cl.conn = &c;
  c.set_user(&cl);
  if (stopping_) {
    Fail(cl, "stopping");
    return;
  }
  if (!InstallTransport(cl, c)) {
    return;
  }
  if (cl.spec->role == Role::kEcho) {
    --connecting_;
    ++connacks_;
    last_connack_ns_ = MonotonicNs();
    BecomeReady(cl);
    return;
  }
  SendConnect(cl);
  cl.state = State::kAwaitConnack;
}

template <typename P>
void LoadShard::Send(Client& cl, const P& packet) {
  const size_t n = mqtt::EncodedSize(packet, version_);
  mqtt::Encode(packet, version_, cl.conn->WriteUninitialized(n));
  cl.last_tx_ms = shard_.now_ms();
}

// offline.cc sends DISCONNECT to park a subscriber.
template void LoadShard::Send<mqtt::Disconnect>(Client& cl, const mqtt::Disconnect& packet);

void LoadShard::SendConnect(Client& cl) {
  mqtt::Connect p;
  p.version = version_;
  // An offline subscriber's session must outlive its connection, whatever --clean says.
  p.clean_start = config_.clean && !cl.spec->offline;
  p.keep_alive_s = config_.keepalive_s;
  p.client_id = cl.spec->client_id;
  if (config_.username) {
    p.username = *config_.username;
  }
  if (config_.password) {
    p.password = *config_.password;
  }
  if (mqtt::IsV5(version_) && !p.clean_start) {
    p.properties.SetSessionExpiryInterval(config_.session_expiry_s);
  }
  Send(cl, p);
}

void LoadShard::SendSubscribe(Client& cl) {
  mqtt::Subscribe p;
  p.packet_id = 1;
  mqtt::Subscription sub;
  sub.filter = cl.spec->filter;
  sub.options.max_qos = config_.qos;
  p.subscriptions.push_back(sub);
  Send(cl, p);
}

void LoadShard::BecomeReady(Client& cl) {
  cl.state = State::kReady;
  ++ready_;
  last_ready_ns_ = MonotonicNs();
  if (cl.pub != nullptr) {
    Queue(*cl.pub);
  }
}

void LoadShard::Fail(Client& cl, const std::string& why) {
  if (cl.state == State::kConnecting || cl.state == State::kAwaitConnack) {
    --connecting_;
  }
  if (cl.state != State::kClosed) {
    ++failed_;
  }
  cl.state = State::kClosed;
  Error(absl::StrFormat("%s: %s", cl.spec->client_id, why));
  if (cl.conn != nullptr) {
    net::Conn* c = cl.conn;
    cl.conn = nullptr;
    cl.ws = nullptr;
    cl.tls = nullptr;
    c->set_user(nullptr);
    shard_.reactor().Close(*c, net::CloseMode::kNow, -ECONNABORTED);
  }
}

void LoadShard::Error(const std::string& what) {
  ++stats_.errors;
  if (stats_.error_samples.size() < 20) {
    stats_.error_samples.push_back(what);
  }
  RINGMQ_LOG_EVERY_S(kWarning, 1, "%s", what);
}

void LoadShard::OnAccepted(net::Conn& c) {
  shard_.reactor().Close(c, net::CloseMode::kNow, 0);  // no listeners: cannot happen
}

void LoadShard::OnAdopted(net::Conn& c, uint64_t /*app_data*/) {
  shard_.reactor().Close(c, net::CloseMode::kNow, 0);  // no hand-offs: cannot happen
}

void LoadShard::OnClosed(net::Conn& c, int err) {
  auto* cl = static_cast<Client*>(c.user());
  if (cl == nullptr) {
    return;
  }
  const std::string why = CloseReason(*cl, err);
  cl->conn = nullptr;
  cl->ws = nullptr;
  cl->tls = nullptr;
  c.set_user(nullptr);
  if (cl->state == State::kParking) {
    OnParked(*cl);
    return;
  }
  if (stopping_ || cl->state == State::kClosed) {
    cl->state = State::kClosed;
    return;
  }
  Fail(*cl, why);
}

std::string LoadShard::CloseReason(const Client& cl, int err) const {
  std::string why = err == 0 ? std::string("the broker closed the connection")
                             : absl::StrFormat("connection lost: %s", std::strerror(-err));
  if (cl.tls != nullptr && !cl.tls->error().empty()) {
    why = absl::StrFormat("TLS: %s (%s)", cl.tls->error(), why);
  } else if (cl.tls != nullptr && cl.tls->handshaking()) {
    why = absl::StrFormat("%s during the TLS handshake (not a TLS listener?)", why);
  } else if (cl.ws != nullptr && !cl.ws->error().empty()) {
    why = absl::StrFormat("%s (%s)", cl.ws->error(), why);
  } else if (cl.ws != nullptr && cl.ws->awaiting_answer()) {
    why = absl::StrFormat("%s before answering the WebSocket upgrade (not a WebSocket listener?)",
                          why);
  }
  return why;
}

void LoadShard::OnOutputDrained(net::Conn& c) {
  auto* cl = static_cast<Client*>(c.user());
  if (cl != nullptr && cl->pub != nullptr) {
    Queue(*cl->pub);
  }
}

// --- receiving ---------------------------------------------------------------------------

void LoadShard::OnData(net::Conn& c, std::span<const uint8_t> data) {
  auto* cl = static_cast<Client*>(c.user());
  if (cl == nullptr) {
    return;
  }
  // One clock read for everything that arrived together.
  rx_now_ns_ = MonotonicNs();
  mqtt::ReadResult r =
      cl->reader.Read(data, [this, cl](const mqtt::FixedHeader& h, std::span<const uint8_t> body) {
        return HandlePacket(*cl, h, body);
      });
  if (r.status == mqtt::ReadStatus::kMalformed || r.status == mqtt::ReadStatus::kTooLarge) {
    Fail(*cl, "malformed packet from the broker");
  }
}

mqtt::SinkAction LoadShard::HandlePacket(Client& cl, const mqtt::FixedHeader& h,
                                         std::span<const uint8_t> body) {
  using mqtt::PacketType;
  mqtt::DecodeStatus s = mqtt::DecodeStatus::Ok();
  switch (h.type) {
    case PacketType::kPublish: {
      mqtt::Publish p;
      s = mqtt::DecodePublish(version_, h, body, &p);
      if (s.ok()) {
        OnPublish(cl, p);
      }
      break;
    }
    case PacketType::kPuback: {
      mqtt::Puback p;
      s = mqtt::DecodePuback(version_, h, body, &p);
      if (s.ok()) {
        OnPublisherAck(cl, h.type, p.packet_id, p.reason);
      }
      break;
    }
    case PacketType::kPubrec: {
      mqtt::Pubrec p;
      s = mqtt::DecodePubrec(version_, h, body, &p);
      if (s.ok()) {
        OnPublisherAck(cl, h.type, p.packet_id, p.reason);
      }
      break;
    }
    case PacketType::kPubcomp: {
      mqtt::Pubcomp p;
      s = mqtt::DecodePubcomp(version_, h, body, &p);
      if (s.ok()) {
        OnPublisherAck(cl, h.type, p.packet_id, p.reason);
      }
      break;
    }
    case PacketType::kPubrel: {
      mqtt::Pubrel p;
      s = mqtt::DecodePubrel(version_, h, body, &p);
      if (s.ok()) {
        mqtt::Pubcomp comp;
        comp.packet_id = p.packet_id;
        Send(cl, comp);
      }
      break;
    }
    case PacketType::kConnack: {
      mqtt::Connack p;
      s = mqtt::DecodeConnack(version_, h, body, &p);
      if (s.ok()) {
        OnConnack(cl, p);
      }
      break;
    }
    case PacketType::kSuback: {
      mqtt::Suback p;
      s = mqtt::DecodeSuback(version_, h, body, &p);
      if (s.ok()) {
        OnSuback(cl, p);
      }
      break;
    }
    case PacketType::kPingresp:
      s = mqtt::DecodePingresp(h, body);
      if (s.ok()) {
        ++stats_.pongs;
        cl.pings_outstanding = cl.pings_outstanding > 0 ? cl.pings_outstanding - 1 : 0;
      }
      break;
    case PacketType::kDisconnect: {
      mqtt::Disconnect p;
      s = mqtt::DecodeDisconnect(version_, h, body, &p);
      if (s.ok()) {
        Fail(cl, absl::StrFormat("DISCONNECT from the broker: %s", mqtt::ReasonCodeName(p.reason)));
      }
      break;
    }
    default:
      Fail(cl, absl::StrFormat("unexpected %s from the broker", mqtt::PacketTypeName(h.type)));
      break;
  }
  if (!s.ok()) {
    Fail(cl, absl::StrFormat("bad %s from the broker: %s", mqtt::PacketTypeName(h.type), s.detail));
  }
  return cl.conn == nullptr ? mqtt::SinkAction::kStop : mqtt::SinkAction::kContinue;
}

void LoadShard::OnConnack(Client& cl, const mqtt::Connack& p) {
  if (cl.state != State::kAwaitConnack) {
    Fail(cl, "unexpected CONNACK");
    return;
  }
  if (mqtt::IsFailure(p.reason)) {
    Fail(cl, absl::StrFormat("CONNACK refused: %s", mqtt::ReasonCodeName(p.reason)));
    return;
  }
  --connecting_;
  ++connacks_;
  if (p.session_present) {
    ++stats_.sessions_resumed;
  }
  last_connack_ns_ = MonotonicNs();
  if (mqtt::IsV5(version_)) {
    const mqtt::Properties& props = p.properties;
    if (props.Has(mqtt::PropertyId::kMaximumQos) &&
        props.maximum_qos < static_cast<uint8_t>(config_.qos)) {
      Fail(cl, absl::StrFormat("the broker allows QoS %d at most", props.maximum_qos));
      return;
    }
    if (cl.pub != nullptr && props.Has(mqtt::PropertyId::kReceiveMaximum)) {
      // Sending more unacknowledged QoS>0 PUBLISHes than this is a protocol error.
      cl.pub->window = std::min<uint32_t>(cl.pub->window, props.receive_maximum);
    }
  }
  if (config_.scenario == Scenario::kHandshake) {
    Recycle(cl);
    return;
  }
  if (reconnecting_ && cl.spec->offline) {
    // Back for its queue: the session still holds the subscription.
    cl.state = State::kReady;
    ++reconnected_;
    return;
  }
  if (cl.sub != nullptr) {
    SendSubscribe(cl);
    cl.state = State::kAwaitSuback;
    return;
  }
  BecomeReady(cl);
}

void LoadShard::Recycle(Client& cl) {
  const uint64_t now = last_connack_ns_;
  const uint64_t took = now - cl.connect_start_ns;
  ++stats_.handshakes;
  recent_.Record(took);
  if (publishing_ && now >= w0_ns_ && now < w1_ns_) {
    ++stats_.handshakes_window;
    stats_.latency.Record(took);
  }
  if (!cl.counted_ready) {
    cl.counted_ready = true;
    ++ready_;
    last_ready_ns_ = now;
  }
  Send(cl, mqtt::Disconnect{});
  net::Conn* c = cl.conn;
  cl.conn = nullptr;
  cl.ws = nullptr;
  cl.tls = nullptr;
  cl.state = State::kPending;
  c->set_user(nullptr);
  // The tool closes first (TIME_WAIT on its side; Linux reuses those ports for loopback
  // connects, net.ipv4.tcp_tw_reuse = 2 by default): the broker sees DISCONNECT, then EOF.
  shard_.reactor().Close(*c, net::CloseMode::kAfterFlush, 0);
  if (!stopping_) {
    StartConnect(cl, static_cast<uint64_t>(&cl - clients_.data()));
  }
}

void LoadShard::OnSuback(Client& cl, const mqtt::Suback& p) {
  if (cl.state != State::kAwaitSuback || p.packet_id != 1 || p.reasons.size() != 1) {
    Fail(cl, "unexpected SUBACK");
    return;
  }
  const mqtt::ReasonCode rc = p.reasons[0];
  if (mqtt::IsFailure(rc)) {
    Fail(cl,
         absl::StrFormat("SUBSCRIBE %s refused: %s", cl.spec->filter, mqtt::ReasonCodeName(rc)));
    return;
  }
  if (static_cast<uint8_t>(rc) < static_cast<uint8_t>(config_.qos)) {
    Fail(cl, absl::StrFormat("SUBSCRIBE %s granted QoS %d only", cl.spec->filter,
                             static_cast<int>(rc)));
    return;
  }
  if (cl.spec->offline) {
    Park(cl);
    return;
  }
  BecomeReady(cl);
}

void LoadShard::OnPublish(Client& cl, const mqtt::Publish& p) {
  if (p.qos == mqtt::Qos::k1) {
    mqtt::Puback ack;
    ack.packet_id = p.packet_id;
    Send(cl, ack);
  } else if (p.qos == mqtt::Qos::k2) {
    mqtt::Pubrec rec;
    rec.packet_id = p.packet_id;
    Send(cl, rec);
  }
  Subscriber* sub = cl.sub;
  PayloadHeader h;
  if (sub == nullptr || !ReadPayloadHeader(p.payload, &h) || h.run_id != ctx_.run_id) {
    ++stats_.foreign;
    return;
  }
  ++stats_.received;
  StreamTracker* stream;
  if (sub->receives_all) {
    if (h.publisher >= sub->streams.size() ||
        (sub->offline && h.publisher % plan_.groups != sub->group)) {
      ++stats_.misrouted;
      return;
    }
    stream = &sub->streams[h.publisher];
    if (sub->offline) {
      OnOfflineArrival(*stream, h.seq);
      return;
    }
  } else {
    if (h.publisher != sub->only_publisher) {
      ++stats_.misrouted;
      return;
    }
    stream = &sub->streams[0];
  }
  Arrival kind;
  const uint64_t advance = stream->Add(h.seq, &kind);
  if (e2e_window_ != 0) {
    // Shared subscriptions split a stream among members, so only arrivals count there;
    // elsewhere a stream's advance also covers what was skipped (lost) on the way.
    const uint64_t d = plan_.shared ? (kind == Arrival::kDuplicate ? 0 : 1) : advance;
    if (d != 0) {
      AddProgress(h.publisher, d);
    }
  }
  const uint64_t latency_ns = rx_now_ns_ > h.send_ns ? rx_now_ns_ - h.send_ns : 0;
  recent_.Record(latency_ns);
  if (h.send_ns >= w0_ns_ && h.send_ns < w1_ns_) {
    ++stats_.received_window;
    if (kind == Arrival::kDuplicate) {
      ++stats_.duplicated_window;
    } else {
      ++stats_.unique_window;
      if (kind != Arrival::kInOrder) {
        ++stats_.reordered_window;
      }
      stats_.latency.Record(latency_ns);
    }
  }
}

bool LoadShard::OnPublisherAck(Client& cl, mqtt::PacketType type, uint16_t packet_id,
                               mqtt::ReasonCode reason) {
  Publisher* p = cl.pub;
  if (p == nullptr || p->slot_state.empty()) {
    Fail(cl, absl::StrFormat("unexpected %s", mqtt::PacketTypeName(type)));
    return false;
  }
  const uint32_t slot = packet_id & p->slot_mask;
  const SlotState state = p->slot_state[slot];
  if (p->slot_id[slot] != packet_id || state == SlotState::kFree) {
    Fail(cl, absl::StrFormat("%s for packet id %d, which is not in flight",
                             mqtt::PacketTypeName(type), packet_id));
    return false;
  }
  if (mqtt::IsFailure(reason) && !plan_.offline) {
    // offline counts refusals (the store full or failing) apart: not an error of the run.
    Error(absl::StrFormat("%s: %s refused a PUBLISH: %s", cl.spec->client_id,
                          mqtt::PacketTypeName(type), mqtt::ReasonCodeName(reason)));
  }
  bool done = false;
  switch (type) {
    case mqtt::PacketType::kPuback:
      done = state == SlotState::kAwaitPuback;
      if (done) {
        RecordAck(*p, slot, reason);
      }
      break;
    case mqtt::PacketType::kPubrec:
      if (state != SlotState::kAwaitPubrec) {
        break;
      }
      RecordAck(*p, slot, reason);
      if (mqtt::IsFailure(reason)) {
        done = true;  // the flow ends at a failed PUBREC [MQTT-4.3.3]
        break;
      }
      {
        mqtt::Pubrel rel;
        rel.packet_id = packet_id;
        Send(cl, rel);
      }
      p->slot_state[slot] = SlotState::kAwaitPubcomp;
      return true;
    case mqtt::PacketType::kPubcomp:
      done = state == SlotState::kAwaitPubcomp;
      break;
    default:
      break;
  }
  if (!done) {
    Fail(cl, absl::StrFormat("%s out of sequence for packet id %d", mqtt::PacketTypeName(type),
                             packet_id));
    return false;
  }
  p->slot_state[slot] = SlotState::kFree;
  --p->inflight;
  Queue(*p);
  return true;
}

// --- publishing --------------------------------------------------------------------------

void LoadShard::StartPublishing(uint64_t t0_ns) {
  t0_ns_ = t0_ns;
  w0_ns_ = t0_ns + static_cast<uint64_t>(config_.warmup_s * 1e9);
  w1_ns_ = w0_ns_ + static_cast<uint64_t>(config_.duration_s * 1e9);
  publishing_ = true;
  if (config_.rate > 0) {
    // Spread the publishers' phases over one period so their sends do not come in bursts.
    const double period_ns = 1e9 / config_.rate;
    for (auto& p : publishers_) {
      p->phase_ns = t0_ns + static_cast<uint64_t>(period_ns * p->id / plan_.publishers);
    }
  }
  ScheduleAt(&start_timer_, t0_ns_);
  ScheduleAt(&window_end_timer_, w1_ns_);
  if (config_.messages != 0 && publishers_.empty()) {
    window_closed_ = true;  // nothing to send here: done at once
  }
}

void LoadShard::Queue(Publisher& p) {
  if (!p.queued && publishing_) {
    p.queued = true;
    queue_.push_back(&p);
  }
}

void LoadShard::Pump(Publisher& p, uint64_t now_ns) {
  Client& cl = *p.client;
  if (!publishing_ || p.finished || cl.state != State::kReady || cl.conn == nullptr ||
      now_ns < t0_ns_ || now_ns >= w1_ns_ || cl.conn->congested()) {
    return;  // OnOutputDrained queues a congested publisher again
  }
  uint64_t n = kMaxBatch;
  bool rate_bound = false;
  if (config_.rate > 0) {
    if (now_ns < p.phase_ns) {
      ScheduleAt(&p.timer, p.phase_ns);
      return;
    }
    // Message k is due at phase + k / rate.
    const auto due =
        static_cast<uint64_t>(static_cast<double>(now_ns - p.phase_ns) * config_.rate / 1e9) + 1;
    const uint64_t credit = due > p.seq ? due - p.seq : 0;
    if (credit <= n) {
      n = credit;
      rate_bound = true;
    }
  }
  // Windows refill in batches of at least half a window (unless the window is empty): one
  // send of 8 messages instead of 8 sends of one each time an acknowledgement or a
  // delivery comes back. Loopback TCP costs per segment, not per byte, for both sides.
  if (!p.slot_state.empty()) {
    const uint64_t free = p.window > p.inflight ? p.window - p.inflight : 0;
    n = std::min<uint64_t>(n, free);
    if (p.inflight != 0 && free < (p.window + 1) / 2) {
      n = 0;
    }
  }
  if (e2e_window_ != 0) {
    const uint64_t fan = plan_.fan;
    const uint64_t sent = p.seq * fan;
    const uint64_t done = p.progress + p.forgiven;
    const uint64_t outstanding = sent > done ? sent - done : 0;
    const uint64_t limit = uint64_t{e2e_window_} * fan;
    const uint64_t free = outstanding < limit ? (limit - outstanding) / fan : 0;
    n = std::min(n, free);
    if (outstanding != 0 && free < (e2e_window_ + 1) / 2) {
      n = 0;
    }
  }
  if (config_.messages != 0) {
    n = std::min(n, config_.messages - p.seq);
  }
  uint64_t written = 0;
  while (written < n && WriteMessage(p, now_ns)) {
    ++written;
  }
  MaybeFinish(p);
  if (p.finished) {
    return;
  }
  if (rate_bound) {
    ScheduleAt(&p.timer,
               p.phase_ns + static_cast<uint64_t>(static_cast<double>(p.seq) * 1e9 / config_.rate));
  } else if (written == kMaxBatch) {
    Queue(p);  // credit left: continue next iteration
  }
}

bool LoadShard::WriteMessage(Publisher& p, uint64_t now_ns) {
  net::Conn& c = *p.client->conn;
  uint16_t packet_id = 0;
  if (!p.slot_state.empty()) {
    packet_id = p.next_packet_id;
    const uint32_t slot = packet_id & p.slot_mask;
    if (p.slot_state[slot] != SlotState::kFree) {
      return false;  // an older id still holds the slot (acks out of order): wait for it
    }
    p.slot_id[slot] = packet_id;
    p.slot_sent_ns[slot] = now_ns;
    p.slot_state[slot] =
        PublishQos() == mqtt::Qos::k1 ? SlotState::kAwaitPuback : SlotState::kAwaitPubrec;
    ++p.inflight;
    p.next_packet_id = packet_id == 65535 ? 1 : packet_id + 1;
  }
  uint8_t* w = c.WriteUninitialized(p.head.size());
  std::memcpy(w, p.head.data(), p.head.size());
  if (packet_id != 0) {
    w[p.id_offset] = static_cast<uint8_t>(packet_id >> 8);
    w[p.id_offset + 1] = static_cast<uint8_t>(packet_id);
  }
  PayloadHeader h;
  h.run_id = ctx_.run_id;
  h.publisher = p.id;
  h.seq = p.seq;
  h.send_ns = now_ns;
  WritePayloadHeader(w + p.payload_offset, h);
  if (p.tail) {
    c.WriteShared(p.tail, 0, p.tail->size());
  }
  ++p.seq;
  ++stats_.sent;
  if (now_ns >= w0_ns_) {
    ++stats_.sent_window;
    stats_.expected_window += plan_.fan;
  }
  p.client->last_tx_ms = shard_.now_ms();
  return true;
}

void LoadShard::MaybeFinish(Publisher& p) {
  if (config_.messages == 0 || p.seq < config_.messages || p.finished) {
    return;
  }
  p.finished = true;
  if (++finished_publishers_ == publishers_.size()) {
    // As at the window's end: nothing more is sent from this shard.
    window_closed_ = true;
  }
}

void LoadShard::AddProgress(uint32_t publisher, uint64_t deliveries) {
  if (pending_progress_[publisher] == 0) {
    progress_dirty_.push_back(publisher);
  }
  pending_progress_[publisher] += deliveries;
}

void LoadShard::FlushProgress() {
  for (uint32_t pub : progress_dirty_) {
    const uint64_t d = pending_progress_[pub];
    pending_progress_[pub] = 0;
    const uint32_t target = plan_.ShardOfPublisher(pub);
    if (target == shard_.index()) {
      ApplyProgress(pub, d);
    } else {
      shard::Envelope e;
      e.kind = kMsgProgress;
      e.u64 = pub;
      e.aux = d;
      shard_.Send(target, e);
    }
  }
  progress_dirty_.clear();
}

void LoadShard::ApplyProgress(uint32_t publisher, uint64_t deliveries) {
  Publisher* p = publisher < publisher_by_id_.size() ? publisher_by_id_[publisher] : nullptr;
  if (p == nullptr) {
    RINGMQ_BUG("progress for a publisher of another shard");
    return;
  }
  p->progress += deliveries;
  p->last_progress_ns = static_cast<uint64_t>(shard_.now_ms()) * 1'000'000;
  Queue(*p);
}

void LoadShard::CheckStalls(uint64_t now_ns) {
  if (!publishing_ || e2e_window_ == 0 || now_ns < t0_ns_ || now_ns >= w1_ns_) {
    return;
  }
  const uint64_t fan = plan_.fan;
  const uint64_t limit = uint64_t{e2e_window_} * fan;
  for (auto& pp : publishers_) {
    Publisher& p = *pp;
    const uint64_t sent = p.seq * fan;
    const uint64_t done = p.progress + p.forgiven;
    const uint64_t outstanding = sent > done ? sent - done : 0;
    const uint64_t since = std::max(p.last_progress_ns, t0_ns_);
    if (outstanding + fan > limit && now_ns - since > kStallNs) {
      p.forgiven += outstanding;
      p.last_progress_ns = now_ns;
      ++stats_.stalls;
      Queue(p);
    }
  }
}

void LoadShard::SendPings() {
  if (config_.keepalive_s == 0 || config_.scenario == Scenario::kEcho) {
    return;
  }
  // PINGREQ when nothing was sent for half the keep-alive: the broker closes a connection
  // silent for 1.5 times the keep-alive [MQTT-3.1.2-24].
  const int64_t idle_ms = int64_t{config_.keepalive_s} * 1000 / 2;
  const int64_t now = shard_.now_ms();
  for (Client& cl : clients_) {
    if (cl.conn == nullptr || cl.state < State::kAwaitSuback || now - cl.last_tx_ms < idle_ms) {
      continue;
    }
    if (cl.pings_outstanding >= 2) {
      Error(absl::StrFormat("%s: no PINGRESP to 2 PINGREQs", cl.spec->client_id));
    }
    Send(cl, mqtt::Pingreq{});
    ++cl.pings_outstanding;
    ++stats_.pings;
  }
}

// --- reporting ---------------------------------------------------------------------------

void LoadShard::SnapshotInterval() {
  {
    base::MutexLock lock(&slot_.mu);
    slot_.interval.Merge(recent_);
  }
  recent_.Clear();
}

void LoadShard::PublishLive() {
  LiveCounters& l = slot_.live;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  l.connects_started.store(connects_started_, kRelaxed);
  l.connacks.store(connacks_, kRelaxed);
  l.ready.store(ready_, kRelaxed);
  l.failed.store(failed_, kRelaxed);
  l.sent.store(stats_.sent, kRelaxed);
  l.received.store(stats_.received, kRelaxed);
  l.expected_window.store(stats_.expected_window, kRelaxed);
  l.unique_window.store(stats_.unique_window, kRelaxed);
  l.errors.store(stats_.errors, kRelaxed);
  l.first_connect_ns.store(first_connect_ns_, kRelaxed);
  l.last_connack_ns.store(last_connack_ns_, kRelaxed);
  l.last_ready_ns.store(last_ready_ns_, kRelaxed);
  l.handshakes.store(stats_.handshakes, kRelaxed);
  if (plan_.offline) {
    l.sent_window.store(stats_.sent_window, kRelaxed);
    l.answered_window.store(stats_.acked_window + stats_.ack_failures_window, kRelaxed);
    l.acked.store(stats_.acked, kRelaxed);
    l.reconnected.store(reconnected_, kRelaxed);
    l.offline_unique.store(stats_.offline_unique, kRelaxed);
    l.last_arrival_ns.store(last_arrival_ns_, kRelaxed);
  }
  if (window_closed_) {
    // Release: the main thread reads expected_window after seeing the flag.
    l.publishing_done.store(true, std::memory_order_release);
  }
}

void LoadShard::OnMessage(const shard::Envelope& e) {
  switch (e.kind) {
    case kMsgBeginConnecting:
      connecting_started_ = true;
      connect_begin_ns_ = MonotonicNs();
      StartConnects();
      break;
    case kMsgStartPublishing:
      StartPublishing(e.u64);
      break;
    case kMsgProgress:
      ApplyProgress(static_cast<uint32_t>(e.u64), e.aux);
      break;
    case kMsgReconnect:
      Reconnect();
      break;
    case kMsgKick:
    default:
      break;
  }
}

void LoadShard::OnLoopEnd() {
  if (connecting_started_ && next_connect_ < connect_end_) {
    StartConnects();
  }
  FlushProgress();
  if (!queue_.empty()) {
    // One clock read stamps every message of this iteration, right before the flush.
    const uint64_t now = MonotonicNs();
    draining_.swap(queue_);
    for (Publisher* p : draining_) {
      p->queued = false;
      Pump(*p, now);
    }
    draining_.clear();
    if (!queue_.empty()) {
      // Work is left for the next iteration: a message to ourselves keeps the loop from
      // sleeping (the epoll backend has no completion that would wake it).
      shard::Envelope e;
      e.kind = kMsgKick;
      shard_.Send(shard_.index(), e);
    }
  }
  PublishLive();
}

void LoadShard::OnStop() {
  stopping_ = true;
  publishing_ = false;
  for (Client& cl : clients_) {
    if (cl.conn == nullptr) {
      continue;
    }
    if (cl.spec->role != Role::kEcho && cl.state >= State::kAwaitSuback) {
      Send(cl, mqtt::Disconnect{});
    }
    shard_.reactor().Close(*cl.conn, net::CloseMode::kAfterFlush, 0);
  }
  FillReport();
}

void LoadShard::FillReport() {
  SnapshotInterval();
  ShardReport& r = slot_.report;
  r = stats_;
  r.connections = ready_;
  r.unacked = CountUnacked();
  r.reconnected = reconnected_;
}

}  // namespace ringmq::bench
