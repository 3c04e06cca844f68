// Ctrl-C for training programs: the first SIGINT only raises a flag, which the training loop
// reads between steps, so the program saves a checkpoint and exits 130 instead of dying mid-write.
#pragma once

namespace ds {

void catch_interrupt();   // installs the SIGINT handler (call once, before training)
bool interrupted();       // true once SIGINT arrived

}  // namespace ds
