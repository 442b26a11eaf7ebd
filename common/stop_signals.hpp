#pragma once
// Shutdown of both binaries: SIGTERM and SIGINT are blocked before any thread starts, so every
// thread inherits the mask and only sigwait() on the returned set sees them. Shutdown then runs
// as ordinary code, not inside a signal handler, which may not stop a server.
#include <pthread.h>

#include <csignal>

namespace ferry {

inline sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace ferry
