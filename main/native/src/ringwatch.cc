// mapping.watchRings(): the passive bus monitor's tap over mapped memory (docs/amp-bus.md §4).
// A thread of its own polls the producer index of each ring and copies every newly published
// slot out, so a monitor keeps up with rates the JS event loop could not follow; the copies
// reach JS in batches through a thread-safe function. It only reads: no index, slot or doorbell
// of the parties it watches is ever written.
//
// A copy is checked against the producer index read right after it, and again at the next look
// (a producer writes a batch of slots before it publishes them: a write in progress during the
// copy is visible only once published). d slots copied from index s, then e more published: the
// producer has reused the first e − (N − d) of them (N slots) and may be writing the next one,
// so the first e + 1 − (N − d) are reported as lost, never delivered torn (with overlapping
// slots only the newest can be whole, while nothing was published after it). The indices are known only modulo N, so a producer that publishes
// N or more messages between two reads of its index makes the count short by a multiple of N; a
// look every few µs (RING_WATCH_POLL_US), at a real-time priority where allowed, keeps that to a
// thread kept off the CPU for a lap of the ring. Each batch says the longest time its ring's
// index went unread around it, timed at every read (a thread can be preempted anywhere in a look,
// not only between looks), so the monitor can say where such a loss would have gone uncounted.
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "guard.h"
#include "ringwatch.h"

namespace amp {
namespace {

// Copies queued for JS beyond this many bytes are dropped and counted as lost: a JS side that
// stopped taking batches must not exhaust memory.
constexpr size_t kMaxQueuedBytes = 64u << 20;
// Longest idle sleep, in poll periods: 100 µs at the default 20 µs, a lap of a 62-slot ring at
// 600 000 messages/s.
constexpr uint64_t kIdleBackoff = 5;

// A time the producer index went unread: from just before one read to just after the next.
struct Gap {
  uint64_t from = 0, to = 0;
  void Widen(const Gap& g) {
    if (g.to - g.from > to - from) *this = g;
  }
};

struct Ring {
  uint64_t producer;
  uint32_t producerWidth;
  uint64_t slotsOffset;
  uint32_t slots;
  uint32_t slotSize;
  uint32_t stride;
  uint32_t indexMask;
  // Watch thread only:
  bool started = false;
  uint32_t next = 0;              // producer index value up to which slots were copied
  int64_t reportedIndex = -1;     // out-of-range raw index last reported
  std::vector<uint8_t> pending;   // the last copy, until the next look at the index checks it
  std::vector<uint8_t> fresh;     // the copy being made
  bool hasPending = false;
  uint32_t pendingFirst = 0;
  uint32_t pendingCount = 0;
  uint32_t pendingLost = 0;       // reused already during the copy, before pendingFirst
  uint64_t pendingSeenNs = 0;
  uint64_t pendingPreviousNs = 0;  // the look before the one that saw those slots published
  uint64_t lastLookNs = 0;
  uint64_t lastReadNs = 0;         // just before the last index read (0: none yet)
  Gap latest;                      // between the last two reads
  Gap longest;                     // the longest since the read that settled the last batch
};

struct Event {
  enum Kind { kBatch, kBadIndex, kGone } kind = kBatch;
  uint32_t ring = 0;
  uint32_t first = 0;
  uint32_t count = 0;
  uint32_t lost = 0;
  uint64_t seenNs = 0;
  uint64_t previousLookNs = 0;
  uint64_t unreadFromNs = 0;
  uint64_t unreadToNs = 0;
  uint32_t index = 0;
  std::vector<uint8_t> slots;
  std::string message;
};

// The clock of process.hrtime.bigint() (libuv's uv_hrtime is CLOCK_MONOTONIC on Linux).
uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

class RingWatcher {
 public:
  WatchedMemory memory;
  std::vector<Ring> rings;
  uint64_t pollNs = 20000;
  std::thread thread;
  std::atomic<bool> stopping{false};
  Napi::FunctionReference onEvents;
  Napi::ThreadSafeFunction tsfn;

  // Idempotent; after it returns the thread is gone and every copy it made is queued.
  void Stop() {
    {
      std::lock_guard<std::mutex> g(sleep_);
      stopping.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    if (thread.joinable()) thread.join();
  }

  // JS thread: hands everything queued to onEvents, in order.
  void Drain(Napi::Env env) {
    std::deque<Event> events;
    {
      std::lock_guard<std::mutex> g(lock_);
      events.swap(queue_);
      queuedBytes_ = 0;
      signalled_ = false;
    }
    if (events.empty()) return;
    Napi::Array list = Napi::Array::New(env, events.size());
    uint32_t i = 0;
    for (Event& e : events) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("ring", e.ring);
      if (e.kind == Event::kBatch) {
        Napi::Uint8Array bytes = Napi::Uint8Array::New(env, e.slots.size());
        if (!e.slots.empty()) std::memcpy(bytes.Data(), e.slots.data(), e.slots.size());
        o.Set("first", e.first);
        o.Set("count", e.count);
        o.Set("lost", e.lost);
        o.Set("seenNs", Napi::BigInt::New(env, e.seenNs));
        o.Set("previousLookNs", Napi::BigInt::New(env, e.previousLookNs));
        o.Set("unreadFromNs", Napi::BigInt::New(env, e.unreadFromNs));
        o.Set("unreadToNs", Napi::BigInt::New(env, e.unreadToNs));
        o.Set("slots", bytes);
      } else if (e.kind == Event::kBadIndex) {
        o.Set("badIndex", e.index);
      } else {
        o.Set("gone", e.message);
      }
      list.Set(i++, o);
    }
    onEvents.Call({list});
  }

  void Run() {
    // Sleeps between looks of a few µs must not be stretched to the default 50 µs slack.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    for (Ring& r : rings) r.lastLookNs = MonotonicNs();
    uint64_t sleepNs = pollNs;
    bool gone = false;
    while (!gone && !stopping.load(std::memory_order_acquire)) {
      bool busy = false;
      // One time for the whole look: the rings' batches of one look share it (they are merged
      // in protocol order by the monitor), and it is taken before any index is read.
      uint64_t seen = MonotonicNs();
      for (uint32_t i = 0; i < rings.size() && !gone; i++) {
        int r = Look(i, true, seen);
        gone = r < 0;
        busy = busy || r > 0;
      }
      // Idle looks back off from pollNs to kIdleBackoff × pollNs (each wake-up costs µs of CPU);
      // the first move brings them back to pollNs.
      sleepNs = busy ? pollNs : std::min(sleepNs * 2, pollNs * kIdleBackoff);
      if (!gone && !busy) {
        std::unique_lock<std::mutex> g(sleep_);
        wake_.wait_for(g, std::chrono::nanoseconds(sleepNs), [this] { return stopping.load(std::memory_order_acquire); });
      }
    }
    // At stop: a last copy of what was published up to now, then a look that checks it.
    uint64_t seen = MonotonicNs();
    for (uint32_t i = 0; i < rings.size() && !gone; i++) gone = Look(i, true, seen) < 0;
    for (uint32_t i = 0; i < rings.size() && !gone; i++) gone = Look(i, false, seen) < 0;
    tsfn.Release();
  }

 private:
  std::mutex sleep_;
  std::condition_variable wake_;
  std::mutex lock_;
  std::deque<Event> queue_;
  size_t queuedBytes_ = 0;
  bool signalled_ = false;

  void Push(Event&& e) {
    bool signal = false;
    {
      std::lock_guard<std::mutex> g(lock_);
      if (e.kind == Event::kBatch && queuedBytes_ + e.slots.size() > kMaxQueuedBytes) {
        e.lost += e.count;
        e.count = 0;
        e.slots.clear();
      }
      queuedBytes_ += e.slots.size();
      queue_.push_back(std::move(e));
      signal = !signalled_;
      signalled_ = true;
    }
    if (signal) tsfn.NonBlockingCall([this](Napi::Env env, Napi::Function) { Drain(env); });
  }

  void Gone() {
    Event e;
    e.kind = Event::kGone;
    e.message = memory.goneMessage();
    Push(std::move(e));
  }

  // LoadIndex, timed: from just before the ring's previous read to just after this one is an upper
  // bound of the time its producer ran unseen.
  bool ReadIndex(Ring& r, uint32_t* value) {
    uint64_t before = MonotonicNs();
    bool ok = LoadIndex(r, value);
    uint64_t after = MonotonicNs();
    if (r.lastReadNs != 0) {
      r.latest = Gap{r.lastReadNs, after};
      r.longest.Widen(r.latest);
    }
    r.lastReadNs = before;
    return ok;
  }

  bool LoadIndex(const Ring& r, uint32_t* value) {
    const void* p = memory.view + r.producer;
    uint32_t v = 0;
    uint32_t width = r.producerWidth;
    bool ok = Guarded(memory.mapBase, memory.mapLength, [&] {
      switch (width) {
        case 8: v = __atomic_load_n(static_cast<const volatile uint8_t*>(p), __ATOMIC_ACQUIRE); break;
        case 16: v = __atomic_load_n(static_cast<const volatile uint16_t*>(p), __ATOMIC_ACQUIRE); break;
        default: v = __atomic_load_n(static_cast<const volatile uint32_t*>(p), __ATOMIC_ACQUIRE); break;
      }
    });
    *value = v;
    return ok;
  }

  // Copies `count` slots starting at index `from` (wrapping at N) into `out`.
  bool Copy(const Ring& r, uint32_t from, uint32_t count, uint8_t* out) {
    const uint8_t* slots = memory.view + r.slotsOffset;
    uint32_t n = r.slots, size = r.slotSize, stride = r.stride;
    return Guarded(memory.mapBase, memory.mapLength, [&] {
      if (stride == size) {
        uint32_t first = std::min(count, n - from);
        std::memcpy(out, slots + static_cast<size_t>(from) * stride, static_cast<size_t>(first) * size);
        if (count > first) std::memcpy(out + static_cast<size_t>(first) * size, slots, static_cast<size_t>(count - first) * size);
      } else {
        for (uint32_t i = 0; i < count; i++) {
          std::memcpy(out + static_cast<size_t>(i) * size, slots + static_cast<size_t>((from + i) % n) * stride, size);
        }
      }
    });
  }

  // Of d slots copied up to index `end`, how many the producer has reached again at `e` more
  // published (and perhaps writing the next one).
  static uint32_t Reused(const Ring& r, uint32_t d, uint32_t e) {
    uint32_t n = r.slots;
    // Overlapping slots (the OpenAMP stride quirk, docs/amp-bus.md §4.3): every write covers the
    // slot before it, so only the newest copied can be whole, and only if nothing came after it.
    if (r.stride < r.slotSize) return e > 0 ? d : d > 0 ? d - 1 : 0;
    return e + 1 > n - d ? std::min(d, e + 1 - (n - d)) : 0;
  }

  // The pending copy, checked against producer index `raw`: slots the producer has reused since are
  // lost. `since` is the gap ending at that read (and any after it), which also precedes the
  // messages of the next batch.
  void Settle(uint32_t ring, Ring& r, uint32_t raw, const Gap& since) {
    uint32_t d = r.pendingCount;
    uint32_t over = Reused(r, d, (raw + r.slots - r.next) % r.slots);
    Event b;
    b.ring = ring;
    b.first = (r.pendingFirst + over) % r.slots;
    b.count = d - over;
    b.lost = r.pendingLost + over;
    b.seenNs = r.pendingSeenNs;
    b.previousLookNs = r.pendingPreviousNs;
    b.unreadFromNs = r.longest.from;
    b.unreadToNs = r.longest.to;
    r.longest = since;
    b.slots.assign(r.pending.begin() + static_cast<ptrdiff_t>(over) * r.slotSize, r.pending.begin() + static_cast<ptrdiff_t>(d) * r.slotSize);
    r.hasPending = false;
    Push(std::move(b));
  }

  // One look at a ring: 1 when it moved, 0 when idle, -1 when the memory is gone.
  int Look(uint32_t ring, bool copy, uint64_t seen) {
    Ring& r = rings[ring];
    uint32_t raw;
    if (!ReadIndex(r, &raw)) {
      Gone();
      return -1;
    }
    raw &= r.indexMask;
    // The previous look's time, for the window the next copied slots were published in.
    uint64_t previous = r.lastLookNs;
    r.lastLookNs = seen;
    if (raw >= r.slots) {
      // Reported once per value; the copies wait for an index back in range.
      if (r.reportedIndex != raw) {
        r.reportedIndex = raw;
        Event e;
        e.kind = Event::kBadIndex;
        e.ring = ring;
        e.index = raw;
        Push(std::move(e));
      }
      if (!copy && r.hasPending) Settle(ring, r, r.next, r.latest);
      return 0;
    }
    r.reportedIndex = -1;
    if (!r.started) {
      r.started = true;
      r.next = raw;
      return 0;
    }
    bool moved = r.hasPending;
    if (!copy || raw == r.next) {
      if (moved) Settle(ring, r, raw, r.latest);
      return moved ? 1 : 0;
    }
    // The copy comes first, right after the index read (the fewer ns between them, the fewer
    // slots the producer can reuse meanwhile), and is checked at once against the index as it
    // is after the copy; the next look checks it again for writes in progress now.
    Gap since = r.latest;
    uint32_t n = r.slots;
    uint32_t d = (raw + n - r.next) % n;
    r.fresh.resize(static_cast<size_t>(d) * r.slotSize);
    uint32_t after;
    if (!Copy(r, r.next, d, r.fresh.data()) || !ReadIndex(r, &after)) {
      Gone();
      return -1;
    }
    after &= r.indexMask;
    uint32_t early = after < n ? Reused(r, d, (after + n - raw) % n) : 0;
    since.Widen(r.latest);
    if (moved) Settle(ring, r, raw, since);
    std::swap(r.pending, r.fresh);
    r.pending.erase(r.pending.begin(), r.pending.begin() + static_cast<ptrdiff_t>(early) * r.slotSize);
    r.hasPending = true;
    r.pendingFirst = (r.next + early) % n;
    r.pendingCount = d - early;
    r.pendingLost = early;
    r.pendingSeenNs = seen;
    r.pendingPreviousNs = previous;
    r.next = raw;
    return 1;
  }
};

namespace {

class RingWatchHandle : public Napi::ObjectWrap<RingWatchHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingWatch", {InstanceMethod<&RingWatchHandle::Stop>("stop")});
  }
  explicit RingWatchHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingWatchHandle>(info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "RingWatch is made by mapping.watchRings()");
    watcher_ = *info[0].As<Napi::External<std::shared_ptr<RingWatcher>>>().Data();
  }

 private:
  // Ends the thread, then delivers (synchronously) every copy it made.
  void Stop(const Napi::CallbackInfo& info) {
    watcher_->Stop();
    watcher_->Drain(info.Env());
  }
  std::shared_ptr<RingWatcher> watcher_;
};

uint32_t Field(Napi::Env env, Napi::Object o, const char* name, uint32_t ring) {
  Napi::Value v = o.Get(name);
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 4294967295.0 && static_cast<double>(static_cast<uint32_t>(d)) == d) return static_cast<uint32_t>(d);
  }
  throw Napi::TypeError::New(env, "rings[" + std::to_string(ring) + "]." + name + ": expected an unsigned 32-bit integer");
}

Ring ParseRing(Napi::Env env, Napi::Value v, uint32_t i, size_t size) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, "rings[" + std::to_string(i) + "]: expected an object");
  Napi::Object o = v.As<Napi::Object>();
  Ring r;
  r.producer = Field(env, o, "producer", i);
  r.producerWidth = Field(env, o, "producerWidth", i);
  r.slotsOffset = Field(env, o, "slotsOffset", i);
  r.slots = Field(env, o, "slots", i);
  r.slotSize = Field(env, o, "slotSize", i);
  r.stride = Field(env, o, "stride", i);
  r.indexMask = Field(env, o, "indexMask", i);
  std::string at = "rings[" + std::to_string(i) + "]: ";
  uint32_t w = r.producerWidth;
  if (w != 8 && w != 16 && w != 32) throw Napi::RangeError::New(env, at + "producerWidth must be 8, 16 or 32");
  if (r.producer % (w / 8) != 0 || r.producer + w / 8 > size) {
    throw Napi::RangeError::New(env, at + "producer index at " + std::to_string(r.producer) + " is unaligned or outside the mapping of " + std::to_string(size) + " bytes");
  }
  if (r.slots < 2 || r.slotSize == 0 || r.stride == 0) throw Napi::RangeError::New(env, at + "expected at least 2 slots, a slot size > 0 and a stride > 0");
  uint64_t end = r.slotsOffset + static_cast<uint64_t>(r.slots - 1) * r.stride + r.slotSize;
  if (end > size) throw Napi::RangeError::New(env, at + "slots end at " + std::to_string(end) + ", outside the mapping of " + std::to_string(size) + " bytes");
  return r;
}

}  // namespace

std::shared_ptr<RingWatcher> StartRingWatch(const Napi::CallbackInfo& info, const WatchedMemory& memory, Napi::Value* handle) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0) throw Napi::TypeError::New(env, "rings: expected a non-empty array");
  Napi::Array list = info[0].As<Napi::Array>();
  auto w = std::make_shared<RingWatcher>();
  w->memory = memory;
  for (uint32_t i = 0; i < list.Length(); i++) w->rings.push_back(ParseRing(env, list.Get(i), i, memory.size));
  w->onEvents = Napi::Persistent(FunctionArg(info, 1, "onEvents"));
  uint64_t pollUs = IndexArg(info, 2, "pollUs");
  if (pollUs == 0 || pollUs > 1000000) throw Napi::RangeError::New(env, "pollUs: expected 1 to 1000000");
  w->pollNs = pollUs * 1000;
  // The finalizer holds the last reference, so queued deliveries never outlive the watcher.
  auto* keep = new std::shared_ptr<RingWatcher>(w);
  w->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "amp-native-ring-watch", 0, 1, keep,
                                          [](Napi::Env, std::shared_ptr<RingWatcher>* k) { delete k; });
  w->thread = std::thread([raw = w.get()] { raw->Run(); });
  // The lowest real-time priority, where the process may (CAP_SYS_NICE): a monitor thread that
  // waits for a CPU behind busy processes for longer than the producer needs to lap the ring
  // loses messages. Without the capability it stays an ordinary thread.
  sched_param lowest{};
  lowest.sched_priority = sched_get_priority_min(SCHED_FIFO);
  bool realtime = info[3].ToBoolean() && pthread_setschedparam(w->thread.native_handle(), SCHED_FIFO, &lowest) == 0;
  Napi::Object h = ClassesOf(env).ringWatch.New({Napi::External<std::shared_ptr<RingWatcher>>::New(env, &w)});
  h.Set("realtime", Napi::Boolean::New(env, realtime));
  *handle = h;
  return w;
}

void StopRingWatch(RingWatcher& watcher) { watcher.Stop(); }

void InitRingWatch(Napi::Env env, Napi::Object) { ClassesOf(env).ringWatch = Napi::Persistent(RingWatchHandle::Define(env)); }

}  // namespace amp
