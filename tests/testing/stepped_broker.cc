#include "tests/testing/stepped_broker.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/broker/recovery.h"
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

void SimClient::UseFraming(uint64_t seed) {
  unsent_.append(kHello);
  Flush();
  framing_ = std::make_unique<FramingPeer>(seed);
}

void SimClient::SendRaw(std::string_view bytes) {
  unsent_.append(framing_ != nullptr ? framing_->Frame(bytes) : std::string(bytes));
  Flush();
}

void SimClient::Flush() {
  size_t done = 0;
  while (fd_ >= 0 && done < unsent_.size()) {
    ssize_t n =
        ::send(fd_, unsent_.data() + done, unsent_.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;  // its socket buffer is full: the rest waits
    }
    if (n <= 0) {
      unsent_.clear();  // the broker is gone: nobody will read it (the test sees it later)
      return;
    }
    done += static_cast<size_t>(n);
  }
  unsent_.erase(0, done);
}

absl::StatusOr<std::vector<ReceivedPacket>> SimClient::Read(size_t max_bytes) {
  Flush();
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
    std::string_view got(buf, static_cast<size_t>(n));
    std::string unframed;
    if (framing_ != nullptr) {
      if (!framing_->Unframe(got, &unframed)) {
        return absl::DataLossError("the broker's framing is broken");
      }
      got = unframed;
    }
    mqtt::ReadResult r =
        reader_.Read(std::span(reinterpret_cast<const uint8_t*>(got.data()), got.size()),
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
  b->shared_.store = o.store != nullptr ? o.store : &b->memory_store_;
  b->shared_.hooks = o.hooks;
  if (o.framing) {
    b->shared_.attach_transport = [n = uint64_t{0}](uint32_t, net::Conn& c) mutable {
      c.SetTransport(std::make_unique<FramingTransport>(++n));
      return true;
    };
  }
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
  b->completions_ = std::make_unique<broker::CompletionRouter>(b->set_.get());
  b->shared_.store->SetListener(b->completions_.get());
  broker::RecoveryRouter recovered(o.shards, b->clock_.NowMs());
  if (absl::Status r = b->shared_.store->Recover(recovered); !r.ok()) {
    return r;
  }
  b->shared_.recovery = recovered.Take();
  broker::BrokerShared* shared = &b->shared_;
  absl::Status s = b->set_->Start(
      [shared](shard::Shard& sh) { return std::make_unique<broker::BrokerShard>(sh, *shared); });
  if (!s.ok()) {
    return s;
  }
  return b;
}

SteppedBroker::~SteppedBroker() {
  if (set_ == nullptr) {
    return;
  }
  set_->Stop();
  // Shutdown has deadlines (the grace period for output, then a hard one): time passes while
  // the shards stop, 10 ms a round, as it would for threads. (ShardSet::Wait() alone steps
  // them with the clock standing still, so a shard waiting for a deadline would take its
  // whole round budget.)
  for (int round = 0; round < 10'000; ++round) {
    bool running = false;
    for (uint32_t i = 0; i < options_.shards; ++i) {
      running |= set_->Step(i);
    }
    if (!running) {
      break;
    }
    clock_.AdvanceMs(10);
  }
  set_->Wait();
}

std::unique_ptr<SimClient> SteppedBroker::Accept(uint32_t shard, mqtt::ProtocolVersion v,
                                                 int socket_buffer) {
  int p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
    return nullptr;
  }
  if (socket_buffer > 0) {
    for (int fd : p) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &socket_buffer, sizeof socket_buffer);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &socket_buffer, sizeof socket_buffer);
    }
  }
  // The broker's end is non-blocking, as an accepted socket is for the epoll backend.
  ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
  set_->shard(shard).AdoptForTest(p[0]);
  auto c = std::make_unique<SimClient>(p[1], v);
  if (options_.framing) {
    c->UseFraming(++framing_seed_);
  }
  return c;
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
