// Ctrl-C and SIGTERM (what schedulers, `kill` and `mpirun` send) for training programs: the
// first signal only raises a flag, which the training loop reads between steps, so the program
// finishes the step, saves a checkpoint, says where, and exits non-zero instead of dying mid-write.
#pragma once

namespace ds {

void catch_interrupt();   // installs the SIGINT and SIGTERM handler (call once, before training)
bool interrupted();       // true once SIGINT or SIGTERM arrived
int interrupt_signal();   // the signal that arrived (SIGINT or SIGTERM), 0 before one did
int interrupt_exit_code();   // 128 + that signal, the shell's convention (130 for Ctrl-C, 143 for SIGTERM); 130 before one
const char* interrupt_name();   // "Ctrl-C (SIGINT)" or "SIGTERM"

}  // namespace ds
