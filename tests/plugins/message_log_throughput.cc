// How many lines per second message_log's writer sustains, and what a hook costs.
//
//   message_log_throughput [LINES] [PAYLOAD_MODE] [PAYLOAD_BYTES] [FILE]
//   (defaults: 1000000 auto 64 /tmp/message_log_throughput.log)
//
// Twice: 1. the writer is held (PauseWriterForTest) and LINES published events go into the
// queue (one core, big enough for all): hook time = that time / LINES; 2. the writer is let
// go: writer rate = LINES / time until all of them are written to FILE.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "plugins/message_log/message_log_for_test.h"
#include "tests/plugins/fake_host.h"

namespace {

double Seconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  using ringmq::testing::FakeClient;
  using ringmq::testing::OwnedMessage;
  const long lines = argc > 1 ? atol(argv[1]) : 1'000'000;
  const std::string mode = argc > 2 ? argv[2] : "auto";
  const size_t payload_bytes = argc > 3 ? static_cast<size_t>(atol(argv[3])) : 64;
  const std::string file = argc > 4 ? argv[4] : "/tmp/message_log_throughput.log";
  if (lines <= 0 || lines > (1 << 20)) {
    fprintf(stderr, "LINES: 1 .. %d\n", 1 << 20);
    return 2;
  }
  unlink(file.c_str());

  ringmq::testing::FakeHost host;
  const ringmq_plugin_descriptor* d = ringmq_plugin_entry(host.api());
  ringmq::testing::OptionList options;
  options.Add("file", file)
      .Add("payload", mode)
      .Add("max_queue", std::to_string(lines))
      .Add("max_queue_bytes", std::to_string(1ull << 34));
  const ringmq_plugin_config config = options.config("message_log", 1);
  char error[256] = {};
  void* global = d->hooks->global_init(host.api(), &config, error, sizeof(error));
  if (global == nullptr) {
    fprintf(stderr, "global_init: %s\n", error);
    return 1;
  }
  void* core = d->hooks->core_init(global, host.core(0), 0);

  const FakeClient client{"sensor-0042", "device"};
  const OwnedMessage m{"site/7/line/3/sensor/0042/temperature", std::string(payload_bytes, 'v'), 1,
                       false};
  const ringmq_message v = m.view();
  // Two rounds: the first also allocates each queue slot's buffer (kept afterwards), the
  // second is the steady state.
  for (int round = 1; round <= 2; ++round) {
    ringmq::message_log::PauseWriterForTest(global);
    const double t0 = Seconds();
    for (long i = 0; i < lines; ++i) {
      d->hooks->on_message_published(core, client.handle(), &v);
    }
    const double t1 = Seconds();
    ringmq::message_log::ResumeWriterForTest(global);
    if (!ringmq::message_log::WaitWrittenForTest(global, static_cast<uint64_t>(lines) * round,
                                                 600'000)) {
      fprintf(stderr, "the writer did not finish\n");
      return 1;
    }
    const double t2 = Seconds();
    printf("round %d: hook (copy into the queue) %.0f ns per event; writer %.0f lines/s\n", round,
           (t1 - t0) * 1e9 / static_cast<double>(lines), static_cast<double>(lines) / (t2 - t1));
  }
  d->hooks->core_fini(core);
  d->hooks->global_fini(global);
  FILE* f = fopen(file.c_str(), "r");
  long size = 0;
  if (f != nullptr) {
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
  }
  printf("lines %ld x 2, payload %s %zu bytes, file %s (%.0f bytes/line)\n", lines, mode.c_str(),
         payload_bytes, file.c_str(), static_cast<double>(size) / static_cast<double>(2 * lines));
  unlink(file.c_str());
  return 0;
}
