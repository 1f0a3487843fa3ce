// map()/mapFd(): a shared mapping of a file or device reached only through copies and single
// aligned accesses, never as an ArrayBuffer (Electron's memory cage forbids external ones).
//
// Every access is guarded: a peer that truncates the shared file under us turns the next
// access to a page past the new end into SIGBUS, which would kill the process with nothing
// printed. A handler installed once catches SIGBUS/SIGSEGV raised inside a guarded access to a
// mapping (and only there; anything else goes on to the handler that was installed before) and
// jumps back out of the access, which then throws an error with code ERR_AMP_MAPPING_GONE.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common.h"
#include "guard.h"
#include "ringwatch.h"

namespace amp {

#if defined(__linux__)
__thread GuardFrame* tlsGuard __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

struct sigaction previousBus {};
struct sigaction previousSegv {};

void OnFault(int sig, siginfo_t* info, void* context) {
  GuardFrame* frame = tlsGuard;
  uintptr_t at = reinterpret_cast<uintptr_t>(info->si_addr);
  if (frame != nullptr && at >= frame->lo && at < frame->hi) {
    frame->signal = sig;
    tlsGuard = nullptr;
    siglongjmp(frame->jump, 1);
  }
  // Not ours: whoever handled this signal before us (Node's WebAssembly trap handler, a crash
  // reporter), or the default action.
  const struct sigaction& previous = sig == SIGBUS ? previousBus : previousSegv;
  if ((previous.sa_flags & SA_SIGINFO) != 0) {
    previous.sa_sigaction(sig, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
  } else {
    // Back to the default: a fault re-raises itself when the access runs again on return, a
    // signal sent by kill() does not.
    signal(sig, SIG_DFL);
    if (info->si_code <= 0) raise(sig);
  }
}

}  // namespace

void InstallFaultHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnFault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previousBus);
    sigaction(SIGSEGV, &sa, &previousSegv);
  });
}

#else
void InstallFaultHandler() {}
#endif

namespace {

struct MapRequest {
  uint8_t* base;       // what mmap returned (page aligned)
  size_t mapLength;    // what was mapped
  size_t delta;        // offset of byte 0 of the mapping's view inside [base, base + mapLength)
  size_t size;         // bytes the caller asked for
  bool readOnly;       // mapped PROT_READ: a write would be SIGSEGV, so it is refused first
  uint64_t offset;     // where the view starts in the file
  int fd;              // our own descriptor of the file, to fstat it after a fault
  std::string what;    // the file's name in errors
};

// The code of the error a guarded access throws once the memory behind the mapping is gone.
constexpr const char* kMappingGone = "ERR_AMP_MAPPING_GONE";

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeMapping",
                       {
                           InstanceAccessor<&Mapping::Size>("size"),
                           InstanceMethod<&Mapping::ReadInto>("readInto"),
                           InstanceMethod<&Mapping::Write>("write"),
                           InstanceMethod<&Mapping::Load>("load"),
                           InstanceMethod<&Mapping::Store>("store"),
                           InstanceMethod<&Mapping::Fence>("fence"),
                           InstanceMethod<&Mapping::Unmap>("unmap"),
                           InstanceMethod<&Mapping::WatchRings>("watchRings"),
                       });
  }

  explicit Mapping(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Mapping>(info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "NativeMapping is made by map() or mapFd()");
    req_ = *info[0].As<Napi::External<MapRequest>>().Data();
  }
  ~Mapping() override { Release(); }

 private:
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(req_.size)); }

  // Byte `offset` of the view, after checking [offset, offset + length) lies inside it.
  uint8_t* At(const Napi::CallbackInfo& info, uint64_t offset, uint64_t length) {
    if (req_.base == nullptr) throw Napi::Error::New(info.Env(), "mapping was unmapped");
    if (!gone_.empty()) throw GoneError(info.Env());
    if (offset > req_.size || length > req_.size - offset) {
      throw Napi::RangeError::New(info.Env(), "access [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                                                   ") outside mapping of " + std::to_string(req_.size) + " bytes");
    }
    return req_.base + req_.delta + offset;
  }

  // Byte `offset` for one aligned access of `width` bits.
  uint8_t* Word(const Napi::CallbackInfo& info, uint64_t offset, uint32_t width) {
    if (width != 8 && width != 16 && width != 32 && width != 64) {
      throw Napi::RangeError::New(info.Env(), "width: expected 8, 16, 32 or 64, saw " + std::to_string(width));
    }
    uint8_t* p = At(info, offset, width / 8);
    if (reinterpret_cast<uintptr_t>(p) % (width / 8) != 0) {
      throw Napi::RangeError::New(info.Env(), std::to_string(width) + "-bit access at unaligned offset " + std::to_string(offset));
    }
    return p;
  }

  // Runs one access to the mapping under the fault guard. Once an access has faulted, every
  // later one throws the same error: the session over this memory is over.
  template <typename Access>
  void Touch(const Napi::CallbackInfo& info, Access&& access) {
    if (Guarded(req_.base, req_.mapLength, access)) return;
    gone_ = GoneMessage();
    throw GoneError(info.Env());
  }

  std::string GoneMessage() const { return GoneMessageOf(req_); }

  static std::string GoneMessageOf(const MapRequest& req) {
    uint64_t needed = req.offset + req.size;
    struct stat st {};
    if (fstat(req.fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < needed) {
      return "the shared file " + req.what + " shrank to " + std::to_string(st.st_size) + " bytes under the session (expected at least " +
             std::to_string(needed) + "): the board side truncated it";
    }
    return "the memory behind the mapping of " + req.what + " is gone (an access raised a bus error): the device was removed or reset, " +
           "or the file was truncated under the session";
  }

  // watchRings(rings, onEvents, pollUs, realtime): a ring watch thread over this mapping (ringwatch.cc),
  // stopped before the mapping goes away.
  Napi::Value WatchRings(const Napi::CallbackInfo& info) {
    At(info, 0, 0);
    MapRequest req = req_;
    WatchedMemory memory{req_.base + req_.delta, req_.size, req_.base, req_.mapLength, [req] { return GoneMessageOf(req); }};
    Napi::Value handle;
    watchers_.push_back(StartRingWatch(info, memory, &handle));
    return handle;
  }

  Napi::Error GoneError(Napi::Env env) const {
    Napi::Error e = Napi::Error::New(env, gone_);
    e.Set("code", Napi::String::New(env, kMappingGone));
    return e;
  }

  static uint32_t WidthArg(const Napi::CallbackInfo& info) {
    return info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  }

  void ReadInto(const Napi::CallbackInfo& info) {
    uint64_t offset = IndexArg(info, 0, "offset");
    Napi::Uint8Array target = BytesArg(info, 1, "target");
    uint8_t* to = target.Data();
    const uint8_t* from = At(info, offset, target.ByteLength());
    size_t length = target.ByteLength();
    Touch(info, [&] { std::memcpy(to, from, length); });
  }

  void Writable(const Napi::CallbackInfo& info) {
    if (req_.readOnly) throw Napi::TypeError::New(info.Env(), "mapping is read-only (mapped with readOnly: true); writes are refused");
  }

  void Write(const Napi::CallbackInfo& info) {
    Writable(info);
    uint64_t offset = IndexArg(info, 0, "offset");
    Napi::Uint8Array data = BytesArg(info, 1, "data");
    uint8_t* to = At(info, offset, data.ByteLength());
    const uint8_t* from = data.Data();
    size_t length = data.ByteLength();
    Touch(info, [&] { std::memcpy(to, from, length); });
  }

  // Single accesses are acquire loads and release stores (amp-bus.md §4.5): one instruction
  // each on x86 and arm64, so they are also what a device register expects.
  Napi::Value Load(const Napi::CallbackInfo& info) {
    uint64_t offset = IndexArg(info, 0, "offset");
    uint32_t width = WidthArg(info);
    void* p = Word(info, offset, width);
    uint64_t value = 0;
    Touch(info, [&] {
      switch (width) {
        case 8: value = __atomic_load_n(static_cast<volatile uint8_t*>(p), __ATOMIC_ACQUIRE); break;
        case 16: value = __atomic_load_n(static_cast<volatile uint16_t*>(p), __ATOMIC_ACQUIRE); break;
        case 32: value = __atomic_load_n(static_cast<volatile uint32_t*>(p), __ATOMIC_ACQUIRE); break;
        default: value = __atomic_load_n(static_cast<volatile uint64_t*>(p), __ATOMIC_ACQUIRE); break;
      }
    });
    if (width == 64) return Napi::BigInt::New(info.Env(), value);
    return Napi::Number::New(info.Env(), static_cast<double>(value));
  }

  void Store(const Napi::CallbackInfo& info) {
    Writable(info);
    uint64_t offset = IndexArg(info, 0, "offset");
    uint32_t width = WidthArg(info);
    void* p = Word(info, offset, width);
    uint64_t value = 0;
    bool ok = false;
    if (info[2].IsBigInt()) {
      bool lossless = false;
      value = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
      ok = lossless;
    } else if (info[2].IsNumber()) {
      double d = info[2].As<Napi::Number>().DoubleValue();
      ok = d >= 0 && d <= 9007199254740991.0 && static_cast<double>(static_cast<uint64_t>(d)) == d;
      value = ok ? static_cast<uint64_t>(d) : 0;
    }
    if (!ok || (width < 64 && value >> width != 0)) {
      throw Napi::RangeError::New(info.Env(), "value: expected an unsigned " + std::to_string(width) + "-bit integer");
    }
    Touch(info, [&] {
      switch (width) {
        case 8: __atomic_store_n(static_cast<volatile uint8_t*>(p), static_cast<uint8_t>(value), __ATOMIC_RELEASE); break;
        case 16: __atomic_store_n(static_cast<volatile uint16_t*>(p), static_cast<uint16_t>(value), __ATOMIC_RELEASE); break;
        case 32: __atomic_store_n(static_cast<volatile uint32_t*>(p), static_cast<uint32_t>(value), __ATOMIC_RELEASE); break;
        default: __atomic_store_n(static_cast<volatile uint64_t*>(p), value, __ATOMIC_RELEASE); break;
      }
    });
  }

  void Fence(const Napi::CallbackInfo& info) {
    At(info, 0, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  }

  void Unmap(const Napi::CallbackInfo&) { Release(); }

  void Release() {
    for (auto& w : watchers_) StopRingWatch(*w);
    watchers_.clear();
    if (req_.base != nullptr) {
      munmap(req_.base, req_.mapLength);
      close(req_.fd);
    }
    req_.base = nullptr;
  }

  MapRequest req_{};
  std::vector<std::shared_ptr<RingWatcher>> watchers_;
  std::string gone_;  // set by the first access that faulted
};

// Maps [offset, offset + length) of an open fd. `what` names the file in errors.
Napi::Value MapOpenFd(Napi::Env env, int fd, uint64_t offset, uint64_t length, bool readOnly, const std::string& what) {
  if (length == 0) throw Napi::RangeError::New(env, "length: a mapping needs at least one byte");
  struct stat st {};
  if (fstat(fd, &st) != 0) throw ErrnoError(env, "fstat " + what, errno);
  // Touching a page past the end of a regular file raises SIGBUS: refuse it here instead.
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) < offset + length) {
    throw Napi::Error::New(env, what + " is " + std::to_string(st.st_size) + " bytes; mapping [" + std::to_string(offset) + ", " +
                                    std::to_string(offset + length) + ") needs at least " + std::to_string(offset + length));
  }
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t aligned = offset - offset % page;
  MapRequest req{nullptr, static_cast<size_t>(length + (offset - aligned)), static_cast<size_t>(offset - aligned), static_cast<size_t>(length), readOnly,
                 offset, -1, what};
  int prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  void* base = mmap(nullptr, req.mapLength, prot, MAP_SHARED, fd, static_cast<off_t>(aligned));
  if (base == MAP_FAILED) throw ErrnoError(env, "mmap " + what + " at offset " + std::to_string(aligned), errno);
  req.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (req.fd < 0) {
    int err = errno;
    munmap(base, req.mapLength);
    throw ErrnoError(env, "dup " + what, err);
  }
  req.base = static_cast<uint8_t*>(base);
  return ClassesOf(env).mapping.New({Napi::External<MapRequest>::New(env, &req)});
}

// map(path, offset, length, { readOnly?, writeCombine? })
Napi::Value Map(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  uint64_t offset = IndexArg(info, 1, "offset");
  uint64_t length = IndexArg(info, 2, "length");
  bool readOnly = false;
  bool writeCombine = false;
  if (info[3].IsObject()) {
    Napi::Object opts = info[3].As<Napi::Object>();
    readOnly = opts.Get("readOnly").ToBoolean();
    writeCombine = opts.Get("writeCombine").ToBoolean();
  }
  // sysfs offers a write-combined view of a prefetchable BAR as resourceN_wc next to resourceN.
  if (writeCombine && access((path + "_wc").c_str(), F_OK) == 0) path += "_wc";
  int fd = open(path.c_str(), (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, "open " + path, errno);
  try {
    Napi::Value mapping = MapOpenFd(env, fd, offset, length, readOnly, path);
    close(fd);  // the mapping keeps the file
    return mapping;
  } catch (...) {
    close(fd);
    throw;
  }
}

// mapFd(fd, offset, length, { readOnly? }): the fd stays open and owned by the caller. A
// read-write fd is mapped PROT_READ when asked (a passive ivshmem peer gets a read-write fd
// from the server but must never write the memory); a read-only fd always is.
Napi::Value MapFd(const Napi::CallbackInfo& info) {
  uint64_t fd = IndexArg(info, 0, "fd");
  uint64_t offset = IndexArg(info, 1, "offset");
  uint64_t length = IndexArg(info, 2, "length");
  bool readOnly = info[3].IsObject() && info[3].As<Napi::Object>().Get("readOnly").ToBoolean();
  int flags = fcntl(static_cast<int>(fd), F_GETFL);
  if (flags < 0) throw ErrnoError(info.Env(), "fd " + std::to_string(fd), errno);
  readOnly = readOnly || (flags & O_ACCMODE) == O_RDONLY;
  return MapOpenFd(info.Env(), static_cast<int>(fd), offset, length, readOnly, "fd " + std::to_string(fd));
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  InstallFaultHandler();
  ClassesOf(env).mapping = Napi::Persistent(Mapping::Define(env));
  exports.Set("map", Napi::Function::New<Map>(env, "map"));
  exports.Set("mapFd", Napi::Function::New<MapFd>(env, "mapFd"));
}

}  // namespace amp
