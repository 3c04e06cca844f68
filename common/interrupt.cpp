#include "common/interrupt.hpp"

#include <csignal>

namespace ds {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
void on_sigint(int) { g_interrupted = 1; }
}  // namespace

void catch_interrupt() { std::signal(SIGINT, on_sigint); }

bool interrupted() { return g_interrupted != 0; }

}  // namespace ds
