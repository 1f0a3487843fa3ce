// Guarded accesses to mapped memory: a SIGBUS/SIGSEGV raised inside one (the memory behind a
// mapping went away) ends the access instead of the process. mapping.cc installs the handler;
// the accesses run on the JS thread (mapping.cc) and on ring watch threads (ringwatch.cc).
#pragma once

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace amp {

// Installs the handler once per process (called when the addon loads).
void InstallFaultHandler();

#if defined(__linux__)
// The guarded access running on this thread, if any. One pointer in initial-exec TLS: the
// handler reads it without calling into the dynamic loader (not async-signal-safe).
struct GuardFrame {
  sigjmp_buf jump;
  uintptr_t lo;
  uintptr_t hi;
  int signal;
};
extern __thread GuardFrame* tlsGuard __attribute__((tls_model("initial-exec")));

// Runs `access` (which touches only [lo, lo + length)); false if it faulted. No C++ object with
// a destructor may live inside `access`: the jump out skips destructors.
template <typename Access>
bool Guarded(const uint8_t* lo, size_t length, Access&& access) {
  GuardFrame frame;
  frame.lo = reinterpret_cast<uintptr_t>(lo);
  frame.hi = frame.lo + length;
  frame.signal = 0;
  // No signal mask saved: that would be a system call per access. The handler ran with the
  // signal blocked, so the landing unblocks it.
  if (sigsetjmp(frame.jump, 0) != 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, frame.signal);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    return false;
  }
  tlsGuard = &frame;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  access();
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tlsGuard = nullptr;
  return true;
}
#else
// Elsewhere the addon is not built (build.cjs); this keeps the file compiling unguarded.
template <typename Access>
bool Guarded(const uint8_t*, size_t, Access&& access) {
  access();
  return true;
}
#endif

}  // namespace amp
