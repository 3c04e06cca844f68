#include "common/interrupt.hpp"

#include <csignal>

namespace ds {

namespace {
volatile std::sig_atomic_t g_signal = 0;
void on_signal(int sig) { g_signal = sig; }
}  // namespace

void catch_interrupt() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_signal != 0; }

int interrupt_signal() { return g_signal; }

int interrupt_exit_code() { return 128 + (g_signal != 0 ? static_cast<int>(g_signal) : SIGINT); }

const char* interrupt_name() { return g_signal == SIGTERM ? "SIGTERM" : "Ctrl-C (SIGINT)"; }

}  // namespace ds
