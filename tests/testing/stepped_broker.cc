#include "tests/testing/stepped_broker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/mqtt/encoder.h"

namespace ringmq::testing {

SimClient::SimClient(int fd, mqtt::ProtocolVersion v)
    : fd_(fd), version_(v), reader_(mqtt::kMaxPacketSize) {}

SimClient::~SimClient() {
  Close();
}

void SimClient::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void SimClient::Send(const mqtt::Packet& p) {
  if (const auto* c = std::get_if<mqtt::Connect>(&p)) {
    version_ = c->version;
  }
  SendRaw(mqtt::EncodeToString(p, version_));
}

void SimClient::SendRaw(std::string_view bytes) {
  while (fd_ >= 0 && !bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) {
      return;  // the broker is gone or its socket buffer is full: the test sees it later
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

absl::StatusOr<std::vector<ReceivedPacket>> SimClient::Read(size_t max_bytes) {
  std::vector<ReceivedPacket> out;
  absl::Status error;
  char buf[16384];
  while (fd_ >= 0 && max_bytes > 0) {
    ssize_t n = ::recv(fd_, buf, std::min(sizeof buf, max_bytes), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      closed_ = true;
      break;
    }
    if (n < 0) {
      break;
    }
    max_bytes -= static_cast<size_t>(n);
    mqtt::ReadResult r =
        reader_.Read(std::span(reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(n)),
                     [&](const mqtt::FixedHeader& h, std::span<const uint8_t> body) {
                       absl::StatusOr<ReceivedPacket> p = ReceivedPacket::Decode(version_, h, body);
                       if (!p.ok()) {
                         error = p.status();
                         return mqtt::SinkAction::kStop;
                       }
                       out.push_back(std::move(*p));
                       return mqtt::SinkAction::kContinue;
                     });
    if (!error.ok()) {
      return error;
    }
    if (r.status != mqtt::ReadStatus::kOk) {
      return absl::DataLossError("the broker sent a malformed or oversized packet");
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SteppedBroker>> SteppedBroker::Start(const SteppedBrokerOptions& o) {
  std::unique_ptr<SteppedBroker> b(new SteppedBroker(o));
  b->shared_.config = o.config;
  b->shared_.shards = o.shards;
  b->shared_.store = &b->store_;
  b->shared_.version = "ringmq (stepped)";
  b->shared_.start_ms = b->clock_.NowMs();
  for (uint32_t i = 0; i < o.shards; ++i) {
    b->shared_.counters.push_back(std::make_unique<broker::ShardCounters>());
  }
  shard::ShardSetOptions so;
  so.threads = o.shards;
  so.pin_threads = false;
  so.stepped = true;
  so.shard.mailbox_capacity = o.mailbox_capacity;
  so.shard.max_messages_per_source = o.max_messages_per_source;
  so.shard.reactor.output_high_watermark = o.output_high_watermark;
  so.shard.reactor.output_low_watermark = o.output_high_watermark / 4;
  so.shard.reactor.backend = o.backend;
  so.shard.reactor.clock = &b->clock_;
  so.shard.reactor.recv_buffer_count = 16;
  b->set_ = std::make_unique<shard::ShardSet>(so);
  broker::BrokerShared* shared = &b->shared_;
  absl::Status s = b->set_->Start(
      [shared](shard::Shard& sh) { return std::make_unique<broker::BrokerShard>(sh, *shared); });
  if (!s.ok()) {
    return s;
  }
  return b;
}

SteppedBroker::~SteppedBroker() {
  if (set_ != nullptr) {
    set_->Stop();
    set_->Wait();
  }
}

std::unique_ptr<SimClient> SteppedBroker::Accept(uint32_t shard, mqtt::ProtocolVersion v) {
  int p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
    return nullptr;
  }
  // The broker's end is non-blocking, as an accepted socket is for the epoll backend.
  ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
  set_->shard(shard).AdoptForTest(p[0]);
  return std::make_unique<SimClient>(p[1], v);
}

void SteppedBroker::Step(uint32_t shard) {
  set_->Step(shard);
}

void SteppedBroker::StepAll(int rounds) {
  for (int r = 0; r < rounds; ++r) {
    for (uint32_t i = 0; i < options_.shards; ++i) {
      set_->Step(i);
    }
  }
}

}  // namespace ringmq::testing
