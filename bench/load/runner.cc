#include "bench/load/runner.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "bench/load/load_shard.h"
#include "bench/load/payload.h"
#include "bench/load/run_state.h"
#include "bench/load/tls_client.h"
#include "core/base/proc_stats.h"
#include "core/base/strings.h"
#include "core/shard/shard_set.h"
#include "core/shard/stop_signals.h"

namespace ringmq::bench {
namespace {

constexpr uint64_t kNsPerS = 1'000'000'000;
// Nothing arrived for this long after the window: the rest is not coming.
constexpr uint64_t kQuietNs = kNsPerS;

struct Totals {
  uint64_t connects_started = 0;
  uint64_t connacks = 0;
  uint64_t ready = 0;
  uint64_t failed = 0;
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t expected_window = 0;
  uint64_t unique_window = 0;
  uint64_t errors = 0;
  uint64_t first_connect_ns = 0;
  uint64_t last_connack_ns = 0;
  uint64_t last_ready_ns = 0;
  bool publishing_done = true;
  // offline
  uint64_t sent_window = 0;
  uint64_t answered_window = 0;
  uint64_t acked = 0;
  uint64_t reconnected = 0;
  uint64_t offline_unique = 0;
  uint64_t last_arrival_ns = 0;
  uint64_t handshakes = 0;
};

class Orchestrator {
 public:
  Orchestrator(const BenchConfig& config, const Plan& plan, RunContext& ctx, shard::ShardSet& set,
               shard::StopSignals& signals)
      : config_(config), plan_(plan), ctx_(ctx), set_(set), signals_(signals) {}

  void Run(BenchResult* r);

 private:
  Totals Sum() const;
  // Waits until `until_ns`, printing progress on the way. False if the run must end: a
  // signal arrived (r->interrupted) or, once connected, a connection was lost (the run's
  // accounting is void then, and waiting for the window to end would only waste time).
  bool SleepUntil(uint64_t until_ns, BenchResult* r);
  // The same, but back early once every publisher sent its --messages.
  bool PublishUntil(uint64_t until_ns, BenchResult* r);
  void Post(uint32_t kind, uint64_t u64);
  void MaybeProgress(uint64_t now_ns);
  void SampleBroker(double* cpu_s, uint64_t* rss_kb);
  bool Connect(BenchResult* r);
  bool Publish(BenchResult* r);
  bool Hold(BenchResult* r);
  bool DrainOffline(BenchResult* r);
  // The count the drain after the window waits for: deliveries (subscribers present) or
  // acknowledgements (offline).
  bool WindowDone(const Totals& t, uint64_t* progress) const;

  const BenchConfig& config_;
  const Plan& plan_;
  RunContext& ctx_;
  shard::ShardSet& set_;
  shard::StopSignals& signals_;
  uint64_t start_ns_ = MonotonicNs();
  uint64_t next_progress_ns_ = start_ns_ + kNsPerS;
  uint64_t last_progress_ns_ = start_ns_;
  Totals last_;
  const char* phase_ = "connect";
  bool connected_ = false;
  LogHistogram cumulative_;  // latencies since publishing started (progress lines)
};

Totals Orchestrator::Sum() const {
  Totals t;
  constexpr auto kRelaxed = std::memory_order_relaxed;
  for (const auto& s : ctx_.slots) {
    const LiveCounters& l = s->live;
    // Acquire first: counters published before the flag are final when it is set.
    t.publishing_done = l.publishing_done.load(std::memory_order_acquire) && t.publishing_done;
    t.connects_started += l.connects_started.load(kRelaxed);
    t.connacks += l.connacks.load(kRelaxed);
    t.ready += l.ready.load(kRelaxed);
    t.failed += l.failed.load(kRelaxed);
    t.sent += l.sent.load(kRelaxed);
    t.received += l.received.load(kRelaxed);
    t.expected_window += l.expected_window.load(kRelaxed);
    t.unique_window += l.unique_window.load(kRelaxed);
    t.errors += l.errors.load(kRelaxed);
    const uint64_t first = l.first_connect_ns.load(kRelaxed);
    if (first != 0 && (t.first_connect_ns == 0 || first < t.first_connect_ns)) {
      t.first_connect_ns = first;
    }
    t.last_connack_ns = std::max(t.last_connack_ns, l.last_connack_ns.load(kRelaxed));
    t.last_ready_ns = std::max(t.last_ready_ns, l.last_ready_ns.load(kRelaxed));
    t.sent_window += l.sent_window.load(kRelaxed);
    t.answered_window += l.answered_window.load(kRelaxed);
    t.acked += l.acked.load(kRelaxed);
    t.reconnected += l.reconnected.load(kRelaxed);
    t.offline_unique += l.offline_unique.load(kRelaxed);
    t.last_arrival_ns = std::max(t.last_arrival_ns, l.last_arrival_ns.load(kRelaxed));
    t.handshakes += l.handshakes.load(kRelaxed);
  }
  return t;
}

void Orchestrator::Post(uint32_t kind, uint64_t u64) {
  for (uint32_t i = 0; i < set_.size(); ++i) {
    shard::Envelope e;
    e.kind = kind;
    e.u64 = u64;
    set_.shard(i).PostExternal(e);
  }
}

bool Orchestrator::SleepUntil(uint64_t until_ns, BenchResult* r) {
  for (;;) {
    uint64_t now = MonotonicNs();
    MaybeProgress(now);
    if (connected_ && Sum().failed > 0) {
      return false;
    }
    if (now >= until_ns) {
      return true;
    }
    uint64_t wait = std::min(until_ns, next_progress_ns_) - std::min(now, until_ns);
    wait = std::min<uint64_t>(wait, 50'000'000);  // also bounds how late a failure is noticed
    // Waiting on the signals is this thread's sleep: Ctrl-C ends the run with a report.
    if (signals_.WaitFor(wait) != 0) {
      r->interrupted = true;
      return false;
    }
  }
}

bool Orchestrator::PublishUntil(uint64_t until_ns, BenchResult* r) {
  for (;;) {
    const uint64_t now = MonotonicNs();
    if (now >= until_ns || (config_.messages != 0 && Sum().publishing_done)) {
      return true;
    }
    if (!SleepUntil(std::min(until_ns, now + 20'000'000), r)) {
      return false;
    }
  }
}

void Orchestrator::MaybeProgress(uint64_t now_ns) {
  if (now_ns < next_progress_ns_) {
    return;
  }
  Totals t = Sum();
  LogHistogram interval;
  for (const auto& s : ctx_.slots) {
    base::MutexLock lock(&s->mu);
    interval.Merge(s->interval);
    s->interval.Clear();
  }
  cumulative_.Merge(interval);
  const double dt = static_cast<double>(now_ns - last_progress_ns_) / 1e9;
  if (config_.progress) {
    // offline: p99 of the acknowledgements, and acknowledgements per second beside.
    // handshake: new connections per second beside.
    std::string acked;
    if (plan_.offline) {
      acked = absl::StrFormat("  acked/s %.0f", static_cast<double>(t.acked - last_.acked) / dt);
    } else if (config_.scenario == Scenario::kHandshake) {
      acked = absl::StrFormat("  handshakes/s %.0f",
                              static_cast<double>(t.handshakes - last_.handshakes) / dt);
    }
    std::fprintf(stderr,
                 "[%6.1fs] %-8s conns %" PRIu64
                 "/%zu  sent/s %.0f%s  recv/s %.0f  p99(1s) %.0fus  "
                 "p99 %.0fus  errors %" PRIu64 "\n",
                 static_cast<double>(now_ns - start_ns_) / 1e9, phase_, t.ready,
                 plan_.clients.size(), static_cast<double>(t.sent - last_.sent) / dt, acked.c_str(),
                 static_cast<double>(t.received - last_.received) / dt,
                 static_cast<double>(interval.Quantile(0.99)) / 1e3,
                 static_cast<double>(cumulative_.Quantile(0.99)) / 1e3, t.errors);
  }
  last_ = t;
  last_progress_ns_ = now_ns;
  next_progress_ns_ = now_ns + kNsPerS;
}

void Orchestrator::SampleBroker(double* cpu_s, uint64_t* rss_kb) {
  if (config_.broker_pid <= 0) {
    return;
  }
  if (absl::StatusOr<double> cpu = base::ProcessCpuSeconds(config_.broker_pid); cpu.ok()) {
    *cpu_s = *cpu;
  }
  if (rss_kb != nullptr) {
    if (auto mem = base::ProcessMemoryKb(config_.broker_pid); mem.ok()) {
      *rss_kb = mem->rss_kb;
    }
  }
}

bool Orchestrator::Connect(BenchResult* r) {
  Post(kMsgBeginConnecting, 0);
  const uint64_t deadline = start_ns_ + static_cast<uint64_t>(config_.connect_timeout_s * 1e9);
  const uint64_t n = plan_.clients.size();
  for (;;) {
    Totals t = Sum();
    if (t.ready + t.failed >= n) {
      break;
    }
    if (MonotonicNs() >= deadline) {
      r->errors += 1;
      r->error_samples.push_back(
          absl::StrFormat("connect phase timed out after %.0f s: %d of %d connections ready",
                          config_.connect_timeout_s, t.ready, n));
      return false;
    }
    if (!SleepUntil(std::min(deadline, MonotonicNs() + 10'000'000), r)) {
      return false;
    }
  }
  Totals t = Sum();
  r->connections = t.ready;
  r->connect_failures = t.failed;
  if (t.first_connect_ns != 0) {
    r->connect_time_ms =
        static_cast<double>(t.last_connack_ns - std::min(t.last_connack_ns, t.first_connect_ns)) /
        1e6;
    r->ready_time_ms =
        static_cast<double>(t.last_ready_ns - std::min(t.last_ready_ns, t.first_connect_ns)) / 1e6;
  }
  if (config_.progress) {
    std::fprintf(stderr, "connected %" PRIu64 "/%" PRIu64 " in %.1f ms (ready in %.1f ms)\n",
                 t.ready, n, r->connect_time_ms, r->ready_time_ms);
  }
  connected_ = true;
  return t.failed == 0;
}

bool Orchestrator::Hold(BenchResult* r) {
  phase_ = "hold";
  double cpu0 = 0;
  double cpu1 = 0;
  SampleBroker(&cpu0, nullptr);
  const double self0 = base::SelfCpuSeconds();
  const uint64_t w0 = MonotonicNs();
  const uint64_t w1 = w0 + static_cast<uint64_t>(config_.duration_s * 1e9);
  bool ok = SleepUntil(w1, r);
  SampleBroker(&cpu1, &r->broker_rss_kb);
  r->tool_cpu_s = base::SelfCpuSeconds() - self0;
  r->broker_cpu_s = cpu1 - cpu0;
  r->window_s = static_cast<double>(MonotonicNs() - w0) / 1e9;
  return ok;
}

bool Orchestrator::Publish(BenchResult* r) {
  // t0 a little ahead, so every shard knows the window before any message is sent.
  const uint64_t t0 = MonotonicNs() + 20'000'000;
  const uint64_t w0 = t0 + static_cast<uint64_t>(config_.warmup_s * 1e9);
  const uint64_t w1 = w0 + static_cast<uint64_t>(config_.duration_s * 1e9);
  Post(kMsgStartPublishing, t0);
  phase_ = "warmup";
  if (!PublishUntil(w0, r)) {
    return false;
  }
  phase_ = "measure";
  double cpu0 = 0;
  double cpu1 = 0;
  SampleBroker(&cpu0, nullptr);
  const double self0 = base::SelfCpuSeconds();
  const bool ok = PublishUntil(w1, r);
  SampleBroker(&cpu1, &r->broker_rss_kb);
  r->tool_cpu_s = base::SelfCpuSeconds() - self0;
  r->broker_cpu_s = cpu1 - cpu0;
  const uint64_t end = std::min(MonotonicNs(), w1);  // earlier if --messages were all sent
  r->window_s = end > w0 ? static_cast<double>(end - w0) / 1e9 : 0;
  if (!ok) {
    return false;
  }
  // Drain: wait for what was sent in the window.
  phase_ = "drain";
  const uint64_t deadline = w1 + static_cast<uint64_t>(config_.drain_s * 1e9);
  uint64_t last_change = MonotonicNs();
  uint64_t last_unique = UINT64_MAX;
  for (;;) {
    const uint64_t now = MonotonicNs();
    Totals t = Sum();
    uint64_t progress = 0;
    if (WindowDone(t, &progress)) {
      r->drained = true;
      break;
    }
    if (progress != last_unique) {
      last_unique = progress;
      last_change = now;
    }
    if (now >= deadline || (t.publishing_done && now - last_change >= kQuietNs)) {
      r->drained = false;
      break;
    }
    if (!SleepUntil(std::min(deadline, now + 5'000'000), r)) {
      return false;
    }
  }
  return true;
}

bool Orchestrator::WindowDone(const Totals& t, uint64_t* progress) const {
  if (plan_.offline) {
    *progress = t.answered_window;
    return t.publishing_done && t.answered_window >= t.sent_window;
  }
  *progress = t.unique_window;
  return t.publishing_done && t.unique_window >= t.expected_window;
}

bool Orchestrator::DrainOffline(BenchResult* r) {
  phase_ = "reconnect";
  const uint64_t start = MonotonicNs();
  const uint64_t deadline = start + static_cast<uint64_t>(config_.drain_offline_timeout_s * 1e9);
  const uint64_t expected = Sum().acked * plan_.fan;
  Post(kMsgReconnect, 0);
  uint64_t last_change = start;
  uint64_t last_unique = 0;
  for (;;) {
    const uint64_t now = MonotonicNs();
    const Totals t = Sum();
    if (t.reconnected >= plan_.subscribers && r->offline_reconnect_ms == 0) {
      r->offline_reconnect_ms = static_cast<double>(now - start) / 1e6;
      phase_ = "drain";
    }
    if (t.offline_unique != last_unique) {
      last_unique = t.offline_unique;
      last_change = now;
    }
    if (t.offline_unique >= expected) {
      r->offline_drained = true;
      break;
    }
    const bool quiet = r->offline_reconnect_ms > 0 && now - last_change >= kQuietNs;
    if (now >= deadline || quiet) {
      break;
    }
    if (!SleepUntil(std::min(deadline, now + 5'000'000), r)) {
      return false;
    }
  }
  const Totals t = Sum();
  if (t.last_arrival_ns > start) {
    r->offline_drain_ms = static_cast<double>(t.last_arrival_ns - start) / 1e6;
    r->offline_drain_rate = static_cast<double>(t.offline_unique) / (r->offline_drain_ms / 1e3);
  }
  return true;
}

void Orchestrator::Run(BenchResult* r) {
  if (config_.broker_pid > 0) {
    r->have_broker = base::ProcessCpuSeconds(config_.broker_pid).ok();
    if (auto mem = base::ProcessMemoryKb(config_.broker_pid); mem.ok()) {
      r->broker_rss_start_kb = mem->rss_kb;
    }
  }
  if (!Connect(r)) {
    return;
  }
  if (config_.scenario == Scenario::kConnect) {
    Hold(r);
  } else if (Publish(r) && config_.drain_offline) {
    DrainOffline(r);
  }
  if (config_.broker_pid > 0) {
    if (auto mem = base::ProcessMemoryKb(config_.broker_pid); mem.ok()) {
      r->broker_hwm_kb = mem->hwm_kb;
    }
  }
}

// Sums the shards' reports into `r`. Every shard thread has ended: the reports are complete.
// offline: the acknowledgements are the measure; the drain's arrivals (--drain_offline) fill
// received/expected/lost/duplicated.
void MergeOffline(const Plan& plan, const RunContext& ctx, BenchResult* r, LogHistogram* latency) {
  uint64_t unique = 0;
  for (const auto& slot : ctx.slots) {
    const ShardReport& s = slot->report;
    latency->Merge(s.ack_latency);
    r->acked += s.acked_window;
    r->ack_failures += s.ack_failures_window;
    r->acked_total += s.acked;
    r->ack_failures_total += s.ack_failures;
    r->unacked += s.unacked;
    r->reconnected += s.reconnected;
    unique += s.offline_unique;
    r->duplicated += s.offline_duplicated;
  }
  r->copies_per_message = plan.fan;
  r->queued_copies = r->acked_total * plan.fan;
  r->received = unique;
  if (r->reconnected > 0) {
    r->expected = r->queued_copies;
    r->lost = r->expected > unique ? r->expected - unique : 0;
  }
  if (r->window_s > 0) {
    r->throughput = static_cast<double>(r->acked) / r->window_s;
  }
}

void MergeReports(const BenchConfig& config, const Plan& plan, const RunContext& ctx,
                  BenchResult* r) {
  LogHistogram latency;
  for (const auto& slot : ctx.slots) {
    const ShardReport& s = slot->report;
    latency.Merge(s.latency);
    r->sent += s.sent_window;
    r->expected += s.expected_window;
    r->received += s.unique_window;
    r->duplicated += s.duplicated_window;
    r->reordered += s.reordered_window;
    r->sent_total += s.sent;
    r->received_total += s.received;
    r->foreign += s.foreign;
    r->misrouted += s.misrouted;
    r->stalls += s.stalls;
    r->pings += s.pings;
    r->pongs += s.pongs;
    r->sessions_resumed += s.sessions_resumed;
    r->handshakes += s.handshakes_window;
    r->errors += s.errors;
    for (const std::string& e : s.error_samples) {
      if (r->error_samples.size() < 20) {
        r->error_samples.push_back(e);
      }
    }
  }
  r->lost = r->expected > r->received ? r->expected - r->received : 0;
  if (r->window_s > 0 && config.scenario != Scenario::kConnect) {
    r->throughput = static_cast<double>(r->received) / r->window_s;
  }
  if (plan.offline) {
    r->sent = 0;
    r->expected = r->received = r->lost = r->duplicated = 0;
    for (const auto& slot : ctx.slots) {
      r->sent += slot->report.sent_window;
    }
    latency.Clear();
    MergeOffline(plan, ctx, r, &latency);
  }
  r->p50_us = static_cast<double>(latency.Quantile(0.50)) / 1e3;
  r->p90_us = static_cast<double>(latency.Quantile(0.90)) / 1e3;
  r->p99_us = static_cast<double>(latency.Quantile(0.99)) / 1e3;
  r->p999_us = static_cast<double>(latency.Quantile(0.999)) / 1e3;
  r->max_us = static_cast<double>(latency.max()) / 1e3;
  r->mean_us = latency.mean() / 1e3;
  if (r->window_s > 0) {
    r->handshake_rate = static_cast<double>(r->handshakes) / r->window_s;
  }
  if (r->broker_cpu_s > 0) {
    r->handshakes_per_broker_cpu_s = static_cast<double>(r->handshakes) / r->broker_cpu_s;
    // offline: acknowledged messages per broker CPU-s.
    const uint64_t done = plan.offline ? r->acked : r->received;
    r->msgs_per_broker_cpu_s = static_cast<double>(done) / r->broker_cpu_s;
  }
}

uint32_t RandomRunId() {
  std::random_device rd;
  uint32_t id = rd();
  return id != 0 ? id : 1;
}

}  // namespace

absl::StatusOr<BenchResult> RunBench(const BenchConfig& config) {
  absl::StatusOr<Plan> plan = MakePlan(config);
  if (!plan.ok()) {
    return plan.status();
  }
  const std::string host = config.host.find(':') != std::string::npos
                               ? absl::StrCat("[", config.host, "]")
                               : config.host;
  absl::StatusOr<net::Endpoint> endpoint = net::ParseEndpoint(absl::StrCat(host, ":", config.port));
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  // One descriptor per connection, plus the rings, eventfds and stdio. ShardSet raises the
  // soft limit to the hard one as well; checking here turns EMFILE halfway through the
  // connect phase into a clear error before anything starts.
  const uint64_t file_limit = net::RaiseFileLimit();
  if (plan->clients.size() + 64 > file_limit) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%d connections need more descriptors than the open file limit %d allows "
                        "(raise the hard limit: ulimit -Hn)",
                        plan->clients.size(), file_limit));
  }
  RunContext ctx;
  ctx.config = &config;
  ctx.plan = &*plan;
  ctx.endpoint = *endpoint;
  ctx.run_id = RandomRunId();
  ctx.e2e_window = EffectiveE2eWindow(config);
  for (uint32_t i = 0; i < config.threads; ++i) {
    ctx.slots.push_back(std::make_unique<ShardSlot>());
  }
  std::unique_ptr<tls::TlsContext> tls;
  if (UsesTls(config.transport)) {
    absl::StatusOr<std::unique_ptr<tls::TlsContext>> t = MakeClientTlsContext(config);
    if (!t.ok()) {
      return t.status();
    }
    tls = std::move(*t);
    ctx.tls = tls.get();
  }

  shard::ShardSetOptions opts;
  opts.threads = config.threads;
  opts.pin_threads = config.pin_threads;
  opts.shard.reactor.backend = config.backend;
  opts.shard.reactor.recv_buffer_size = config.recv_buffer_size;
  opts.shard.timer_tick_ms = static_cast<uint32_t>(kTimerTickMs);
  // Mailboxes carry one progress envelope per publisher and iteration at most.
  opts.shard.mailbox_capacity = 8192;

  // SIGINT and SIGTERM blocked before the shard threads start (they inherit the mask), taken
  // by this thread; the caller's mask comes back when the run is over.
  shard::StopSignals signals(shard::StopSignals::OnExit::kRestore);
  BenchResult r;
  {
    shard::ShardSet set(opts);
    absl::Status s = set.Start([&ctx](shard::Shard& sh) -> std::unique_ptr<shard::ShardApp> {
      return std::make_unique<LoadShard>(sh, ctx);
    });
    if (!s.ok()) {
      return s;
    }
    r.backend = std::string(net::BackendName(set.backend()));
    Orchestrator orchestrator(config, *plan, ctx, set, signals);
    orchestrator.Run(&r);
    set.Stop();
    set.Wait();
    const shard::ShardStats engine = set.TotalStats();
    r.tool_sends = engine.io.sends;
    r.tool_bytes_out = engine.io.bytes_out;
    r.tool_bytes_in = engine.io.bytes_in;
    r.tool_loops = engine.shard.loops;
    r.tool_sleeps = engine.shard.sleeps;
  }

  MergeReports(config, *plan, ctx, &r);
  return r;
}

namespace {

std::string JsonString(std::string_view value) {
  std::string out = "\"";
  for (char ch : value) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", ch);
        } else {
          out += ch;
        }
    }
  }
  out += '"';
  return out;
}

// One flat object, one field per line, in the order written.
class JsonWriter {
 public:
  void Field(std::string_view key, std::string_view value) { Raw(key, JsonString(value)); }
  void Field(std::string_view key, const char* value) { Field(key, std::string_view(value)); }
  void Field(std::string_view key, uint64_t value) { Raw(key, absl::StrCat(value)); }
  void Field(std::string_view key, double value) { Raw(key, absl::StrFormat("%.3f", value)); }
  void Field(std::string_view key, bool value) { Raw(key, value ? "true" : "false"); }
  void Strings(std::string_view key, const std::vector<std::string>& values) {
    std::string list = "[";
    for (size_t i = 0; i < values.size(); ++i) {
      absl::StrAppend(&list, i == 0 ? "" : ", ", JsonString(values[i]));
    }
    Raw(key, list + "]");
  }
  std::string Finish() { return absl::StrCat("{\n", out_, "\n}\n"); }

 private:
  void Raw(std::string_view key, std::string_view value) {
    if (!out_.empty()) {
      out_ += ",\n";
    }
    absl::StrAppend(&out_, "  \"", base::ToAbsl(key), "\": ", base::ToAbsl(value));
  }
  std::string out_;
};

}  // namespace

std::string ToJson(const BenchConfig& c, const BenchResult& r) {
  JsonWriter j;
  j.Field("scenario", ScenarioName(c.scenario));
  j.Field("mqtt_version", mqtt::ProtocolVersionName(c.version));
  j.Field("transport", ClientTransportName(c.transport));
  j.Field("qos", uint64_t{static_cast<uint8_t>(c.qos)});
  j.Field("payload", uint64_t{c.payload_bytes});
  j.Field("rate", c.rate);
  j.Field("inflight", uint64_t{c.inflight});
  j.Field("e2e_window", uint64_t{EffectiveE2eWindow(c)});
  j.Field("threads", uint64_t{c.threads});
  j.Field("backend", r.backend);
  j.Field("duration_s", r.window_s);
  j.Field("warmup_s", c.warmup_s);
  j.Field("connections", r.connections);
  j.Field("connect_failures", r.connect_failures);
  j.Field("connect_time_ms", r.connect_time_ms);
  j.Field("ready_time_ms", r.ready_time_ms);
  j.Field("sent", r.sent);
  j.Field("received", r.received);
  j.Field("expected", r.expected);
  j.Field("lost", r.lost);
  j.Field("duplicated", r.duplicated);
  j.Field("reordered", r.reordered);
  j.Field("throughput", r.throughput);
  j.Field("latency_p50_us", r.p50_us);
  j.Field("latency_p90_us", r.p90_us);
  j.Field("latency_p99_us", r.p99_us);
  j.Field("latency_p999_us", r.p999_us);
  j.Field("latency_max_us", r.max_us);
  j.Field("latency_mean_us", r.mean_us);
  j.Field("sent_total", r.sent_total);
  j.Field("received_total", r.received_total);
  j.Field("foreign", r.foreign);
  j.Field("misrouted", r.misrouted);
  j.Field("e2e_stalls", r.stalls);
  j.Field("pings", r.pings);
  j.Field("pongs", r.pongs);
  j.Field("sessions_resumed", r.sessions_resumed);
  j.Field("drained", r.drained);
  j.Field("interrupted", r.interrupted);
  j.Field("errors", r.errors);
  j.Strings("error_samples", r.error_samples);
  if (r.have_broker) {
    j.Field("broker_pid", uint64_t{static_cast<uint32_t>(c.broker_pid)});
    j.Field("broker_rss_kb", r.broker_rss_kb);
    j.Field("broker_rss_start_kb", r.broker_rss_start_kb);
    j.Field("broker_hwm_kb", r.broker_hwm_kb);
    if (r.connections > 0) {
      j.Field("broker_rss_per_connection_bytes",
              static_cast<double>(r.broker_rss_kb) * 1024.0 / static_cast<double>(r.connections));
      j.Field("broker_rss_growth_per_connection_bytes",
              (static_cast<double>(r.broker_rss_kb) - static_cast<double>(r.broker_rss_start_kb)) *
                  1024.0 / static_cast<double>(r.connections));
    }
    j.Field("broker_cpu_s", r.broker_cpu_s);
    j.Field("broker_cpu_cores", r.window_s > 0 ? r.broker_cpu_s / r.window_s : 0.0);
    j.Field("msgs_per_broker_cpu_s", r.msgs_per_broker_cpu_s);
  }
  if (c.scenario == Scenario::kOffline) {
    j.Field("copies_per_message", r.copies_per_message);
    j.Field("acked", r.acked);
    j.Field("ack_failures", r.ack_failures);
    j.Field("acked_total", r.acked_total);
    j.Field("ack_failures_total", r.ack_failures_total);
    j.Field("unacked", r.unacked);
    j.Field("queued_copies", r.queued_copies);
    j.Field("drain_offline", c.drain_offline);
    if (c.drain_offline) {
      j.Field("reconnected", r.reconnected);
      j.Field("offline_drained", r.offline_drained);
      j.Field("offline_reconnect_ms", r.offline_reconnect_ms);
      j.Field("offline_drain_ms", r.offline_drain_ms);
      j.Field("offline_drain_rate", r.offline_drain_rate);
    }
  }
  if (c.scenario == Scenario::kHandshake) {
    j.Field("handshakes", r.handshakes);
    j.Field("handshake_rate", r.handshake_rate);
    if (r.have_broker) {
      j.Field("handshakes_per_broker_cpu_s", r.handshakes_per_broker_cpu_s);
    }
  }
  j.Field("tool_cpu_s", r.tool_cpu_s);
  j.Field("tool_cpu_cores", r.window_s > 0 ? r.tool_cpu_s / r.window_s : 0.0);
  j.Field("tool_sends", r.tool_sends);
  j.Field("tool_bytes_out", r.tool_bytes_out);
  j.Field("tool_bytes_in", r.tool_bytes_in);
  j.Field("tool_loops", r.tool_loops);
  j.Field("tool_sleeps", r.tool_sleeps);
  return j.Finish();
}

int ExitCode(const BenchConfig& c, const BenchResult& r) {
  if (r.interrupted || r.errors > 0 || r.connect_failures > 0 || r.misrouted > 0) {
    return 1;
  }
  // Over TCP the echo server cannot lose or repeat anything: either is a bug.
  const bool must_deliver = c.qos != mqtt::Qos::k0 || c.strict || c.scenario == Scenario::kEcho;
  if (r.lost > 0 && must_deliver) {
    return 1;
  }
  // At most once (QoS 0) and exactly once (QoS 2) forbid duplicates; at least once allows.
  if (r.duplicated > 0 && c.qos != mqtt::Qos::k1) {
    return 1;
  }
  if (r.reordered > 0 && c.strict) {
    return 1;
  }
  return 0;
}

}  // namespace ringmq::bench
