// Ring watches: a thread per watch that follows the producer indices of rings in a mapping and
// copies newly published slots out (the passive bus monitor's tap, docs/amp-bus.md §4).
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace amp {

// The part of a mapping a watch reads: the view the JS offsets address, and the whole mapped
// range the fault guard covers.
struct WatchedMemory {
  const uint8_t* view;
  size_t size;
  const uint8_t* mapBase;
  size_t mapLength;
  // Words of the error once an access faulted (called on the watch thread).
  std::function<std::string()> goneMessage;
};

class RingWatcher;

// watchRings(rings, onEvents, pollUs, realtime) on a mapping (args from info[0]); returns
// the watcher and, in `handle`, the JS object whose stop() ends it.
std::shared_ptr<RingWatcher> StartRingWatch(const Napi::CallbackInfo& info, const WatchedMemory& memory, Napi::Value* handle);
// Ends the thread and waits for it (the mapping is about to go); batches already copied are still delivered.
void StopRingWatch(RingWatcher& watcher);

void InitRingWatch(Napi::Env env, Napi::Object exports);

}  // namespace amp
