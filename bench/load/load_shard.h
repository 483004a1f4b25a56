// LoadShard: the load tool's ShardApp. Each shard owns a slice of the planned client
// connections (client k runs on shard k % threads) and plays the MQTT client side for them:
// CONNECT, SUBSCRIBE, PUBLISH at QoS 0/1/2 with the full acknowledgement flows, PINGREQ,
// DISCONNECT. Shard-local: everything runs on the shard's thread; the main thread talks to
// it only through RunContext (see run_state.h) and posted envelopes.
//
// The life of a published message:
//   1. something gives a publisher credit: the start, its rate timer, an acknowledgement, a
//      progress report from a subscriber's shard; the publisher is queued for sending;
//   2. OnLoopEnd (once per loop iteration, right before the engine flushes) reads the clock
//      once and writes each queued publisher's batch into its output queue: a memcpy of the
//      pre-encoded PUBLISH, the packet id, and the payload header (run, publisher, sequence,
//      send time); the engine sends each connection's batch in one send;
//   3. the subscriber's OnData frames packets in place (PacketReader), decodes the PUBLISH
//      as views, acknowledges at QoS 1/2, records latency (one clock read per OnData) and
//      the arrival's kind (new, late, duplicate) in the (publisher, subscriber) stream;
//   4. with an end-to-end window (unthrottled publishers), the subscriber's shard tells the
//      publisher's shard how far each stream advanced, batched per loop iteration (one
//      envelope per publisher), which gives the publisher credit again (step 1).
// Nothing on this path allocates (beyond the engine's 4 KiB output chunks) or makes a
// syscall per message.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench/load/histogram.h"
#include "bench/load/run_state.h"
#include "bench/load/stream_tracker.h"
#include "bench/load/tls_client.h"
#include "bench/load/ws_client_transport.h"
#include "core/mqtt/decoder.h"
#include "core/mqtt/packet_reader.h"
#include "core/net/buffer.h"
#include "core/net/timer_wheel.h"
#include "core/shard/shard.h"

namespace ringmq::bench {

// The timer wheel's tick; the runner configures the shards with it.
inline constexpr int64_t kTimerTickMs = 1;

class LoadShard final : public shard::ShardApp {
 public:
  LoadShard(shard::Shard& shard, RunContext& ctx);
  ~LoadShard() override;

  void OnStart() override;
  void OnAccepted(net::Conn& c) override;
  void OnConnected(net::Conn& c, uint64_t tag, int err) override;
  void OnData(net::Conn& c, std::span<const uint8_t> data) override;
  void OnClosed(net::Conn& c, int err) override;
  void OnOutputDrained(net::Conn& c) override;
  void OnAdopted(net::Conn& c, uint64_t app_data) override;
  void OnMessage(const shard::Envelope& e) override;
  void OnLoopEnd() override;
  void OnStop() override;

 private:
  enum class State : uint8_t {
    kPending,       // not started
    kConnecting,    // TCP connect in progress
    kAwaitConnack,  // CONNECT sent
    kAwaitSuback,   // SUBSCRIBE sent
    kReady,
    kParking,  // offline subscriber: DISCONNECT sent, waiting for the broker to close
    kParked,   // offline subscriber: its session lives on in the broker without it
    kClosed,
  };
  struct Publisher;
  struct Subscriber;
  struct Client {
    const ClientSpec* spec = nullptr;
    net::Conn* conn = nullptr;
    WsClientTransport* ws = nullptr;    // --transport websocket|wss: under conn, owned by it
    TlsClientTransport* tls = nullptr;  // --transport tls|wss: under conn, owned by it
    mqtt::PacketReader reader;
    Publisher* pub = nullptr;
    Subscriber* sub = nullptr;
    int64_t last_tx_ms = 0;
    uint32_t pings_outstanding = 0;
    uint64_t connect_start_ns = 0;  // the current connection's connect
    bool counted_ready = false;     // handshake: ready once, however many connections follow
    State state = State::kPending;
  };
  // Timers call back a plain function with the Timer*; these carry their owner.
  struct ShardTimer : net::Timer {
    explicit ShardTimer(Callback cb) : net::Timer(cb) {}
    LoadShard* shard = nullptr;
  };
  struct PubTimer : net::Timer {
    PubTimer() : net::Timer(&LoadShard::OnPubTimer) {}
    LoadShard* shard = nullptr;
    Publisher* pub = nullptr;
  };
  enum class SlotState : uint8_t { kFree, kAwaitPuback, kAwaitPubrec, kAwaitPubcomp };
  struct Publisher {
    Client* client = nullptr;
    uint32_t id = 0;
    // The encoded PUBLISH: head (fixed header .. payload header) is copied per message; a
    // long filler tail is referenced from `tail` instead.
    std::vector<uint8_t> head;
    net::BufferRef tail;
    size_t id_offset = 0;
    size_t payload_offset = 0;
    uint64_t seq = 0;  // next sequence number = messages sent
    uint64_t phase_ns = 0;
    // QoS > 0: packet id -> slot (id & slot_mask); at most `window` in flight.
    std::vector<uint16_t> slot_id;
    std::vector<SlotState> slot_state;
    std::vector<uint64_t> slot_sent_ns;  // when the PUBLISH in the slot went out
    uint32_t slot_mask = 0;
    uint32_t window = 0;
    uint32_t inflight = 0;
    uint16_t next_packet_id = 1;
    // End-to-end window: deliveries reported by subscribers, and deliveries given up on.
    uint64_t progress = 0;
    uint64_t forgiven = 0;
    uint64_t last_progress_ns = 0;
    bool queued = false;
    bool finished = false;  // sent its --messages
    PubTimer timer;
  };
  struct Subscriber {
    Client* client = nullptr;
    uint32_t only_publisher = 0;  // when !receives_all
    bool receives_all = false;
    bool offline = false;                // parked while publishers publish (offline scenario)
    uint32_t group = 0;                  // offline: hears publishers with id % groups == group
    std::vector<StreamTracker> streams;  // by publisher id, or one
  };

  static void OnPubTimer(net::Timer* t);
  static void OnHousekeepingTimer(net::Timer* t);
  static void OnSecondTimer(net::Timer* t);
  static void OnWindowEndTimer(net::Timer* t);
  static void OnStartTimer(net::Timer* t);
  void ScheduleAt(net::Timer* t, uint64_t ns);
  mqtt::Qos PublishQos() const;

  void StartConnects();
  // Opens the connection of clients_[tag].
  void StartConnect(Client& cl, uint64_t tag);
  // Puts the --transport under a new connection; false (and the client failed) if it cannot.
  bool InstallTransport(Client& cl, net::Conn& c);
  // handshake: the CONNACK came; DISCONNECT, close, and connect again.
  void Recycle(Client& cl);
  void SendConnect(Client& cl);
  void SendSubscribe(Client& cl);
  void BecomeReady(Client& cl);
  void Fail(Client& cl, const std::string& why);
  // What ended a connection: the TLS or WebSocket transport's reason when it has one, else
  // `err`.
  std::string CloseReason(const Client& cl, int err) const;
  void Error(const std::string& what);

  mqtt::SinkAction HandlePacket(Client& cl, const mqtt::FixedHeader& h,
                                std::span<const uint8_t> body);
  void OnConnack(Client& cl, const mqtt::Connack& p);
  void OnSuback(Client& cl, const mqtt::Suback& p);
  void OnPublish(Client& cl, const mqtt::Publish& p);
  bool OnPublisherAck(Client& cl, mqtt::PacketType type, uint16_t packet_id,
                      mqtt::ReasonCode reason);

  template <typename P>
  void Send(Client& cl, const P& packet);

  void BuildPublisher(Publisher& p);
  void StartPublishing(uint64_t t0_ns);
  void Queue(Publisher& p);
  void Pump(Publisher& p, uint64_t now_ns);
  bool WriteMessage(Publisher& p, uint64_t now_ns);
  void MaybeFinish(Publisher& p);
  void AddProgress(uint32_t publisher, uint64_t deliveries);
  void ApplyProgress(uint32_t publisher, uint64_t deliveries);
  void FlushProgress();
  void CheckStalls(uint64_t now_ns);
  void SendPings();
  // The offline scenario (offline.cc).
  void Park(Client& cl);
  void OnParked(Client& cl);
  void Reconnect();
  void RecordAck(Publisher& p, uint32_t slot, mqtt::ReasonCode reason);
  void OnOfflineArrival(StreamTracker& stream, uint64_t seq);
  uint64_t CountUnacked() const;

  void SnapshotInterval();
  void PublishLive();
  void FillReport();

  shard::Shard& shard_;
  RunContext& ctx_;
  const BenchConfig& config_;
  const Plan& plan_;
  ShardSlot& slot_;
  const mqtt::ProtocolVersion version_;
  const uint32_t e2e_window_;

  std::vector<Client> clients_;
  std::vector<std::unique_ptr<Publisher>> publishers_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::vector<Publisher*> publisher_by_id_;  // local publishers by global id, else null

  // --transport websocket: the Host header, and the PRNG that seeds each connection's own.
  std::string ws_host_;
  uint64_t ws_seed_ = 0;

  // Connecting: clients_[next_connect_, connect_end_) are still to connect.
  size_t next_connect_ = 0;
  size_t connect_end_ = 0;
  uint32_t connecting_ = 0;
  uint32_t connect_concurrency_ = 1;
  uint64_t connect_begin_ns_ = 0;
  bool connecting_started_ = false;

  // Publishing.
  bool publishing_ = false;
  bool stopping_ = false;
  uint64_t t0_ns_ = 0;
  uint64_t w0_ns_ = 0;  // measured window [w0, w1)
  uint64_t w1_ns_ = 0;
  std::vector<Publisher*> queue_;
  std::vector<Publisher*> draining_;
  std::vector<uint64_t> pending_progress_;  // by publisher id
  std::vector<uint32_t> progress_dirty_;
  size_t finished_publishers_ = 0;

  ShardTimer housekeeping_timer_{&LoadShard::OnHousekeepingTimer};
  ShardTimer second_timer_{&LoadShard::OnSecondTimer};
  ShardTimer window_end_timer_{&LoadShard::OnWindowEndTimer};
  ShardTimer start_timer_{&LoadShard::OnStartTimer};
  bool window_closed_ = false;
  uint64_t rx_now_ns_ = 0;  // the clock at the start of the current OnData

  // Counters (published to slot_.live every iteration, to slot_.report at the end).
  ShardReport stats_;    // stats_.latency: in-window messages
  LogHistogram recent_;  // every message since the last snapshot (progress lines)
  uint64_t connacks_ = 0;
  uint64_t ready_ = 0;
  uint64_t failed_ = 0;
  uint64_t connects_started_ = 0;
  uint64_t first_connect_ns_ = 0;
  uint64_t last_connack_ns_ = 0;
  uint64_t last_ready_ns_ = 0;
  // offline: subscribers reconnected to drain their queues (--drain_offline).
  size_t local_subscribers_ = 0;  // they come first in clients_
  bool reconnecting_ = false;
  uint64_t reconnected_ = 0;
  uint64_t last_arrival_ns_ = 0;
};

}  // namespace ringmq::bench
