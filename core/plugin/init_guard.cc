#include "core/plugin/init_guard.h"

#include <unistd.h>

#include <cstring>

namespace ringmq::plugin {
namespace {

thread_local const char* current_note = nullptr;

void Write(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0) {
      return;
    }
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void OnCrash(int sig) {
  if (current_note != nullptr) {
    // One write: another thread crashing at the same moment ends the process.
    char line[256];
    size_t n = 0;
    auto put = [&](const char* t) {
      while (*t != '\0' && n < sizeof line - 1) {
        line[n++] = *t++;
      }
    };
    char num[8];
    int i = sizeof num - 1;
    num[i] = '\0';
    int v = sig;
    do {
      num[--i] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v > 0 && i > 0);
    put("ringmq: ");
    put(current_note);
    put(" (signal ");
    put(num + i);
    put("): the broker stops\n");
    line[n] = '\0';
    Write(line);
  }
  // Die of the signal as if nothing had been installed: a fault re-runs the instruction,
  // abort() raises again.
  signal(sig, SIG_DFL);
  if (sig == SIGABRT) {
    raise(sig);
  }
}

}  // namespace

CrashNotes::CrashNotes() {
  struct sigaction sa = {};
  sa.sa_handler = OnCrash;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_NODEFER;  // each crashing thread says whose crash it is
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) {
    sigaction(kSignals[i], &sa, &old_[i]);
  }
}

CrashNotes::~CrashNotes() {
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) {
    sigaction(kSignals[i], &old_[i], nullptr);
  }
}

InitGuard::InitGuard(const char* note) : previous_(current_note) {
  current_note = note;
}

InitGuard::~InitGuard() {
  current_note = previous_;
}

}  // namespace ringmq::plugin
