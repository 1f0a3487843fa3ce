// map()/mapFd(): a shared mapping of a file or device reached only through copies and single
// aligned accesses, never as an ArrayBuffer (Electron's memory cage forbids external ones).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace amp {
namespace {

struct MapRequest {
  uint8_t* base;       // what mmap returned (page aligned)
  size_t mapLength;    // what was mapped
  size_t delta;        // offset of byte 0 of the mapping's view inside [base, base + mapLength)
  size_t size;         // bytes the caller asked for
  bool readOnly;       // mapped PROT_READ: a write would be SIGSEGV, so it is refused first
};

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

  static uint32_t WidthArg(const Napi::CallbackInfo& info) {
    return info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  }

  void ReadInto(const Napi::CallbackInfo& info) {
    uint64_t offset = IndexArg(info, 0, "offset");
    Napi::Uint8Array target = BytesArg(info, 1, "target");
    std::memcpy(target.Data(), At(info, offset, target.ByteLength()), target.ByteLength());
  }

  void Writable(const Napi::CallbackInfo& info) {
    if (req_.readOnly) throw Napi::TypeError::New(info.Env(), "mapping is read-only (mapped with readOnly: true); writes are refused");
  }

  void Write(const Napi::CallbackInfo& info) {
    Writable(info);
    uint64_t offset = IndexArg(info, 0, "offset");
    Napi::Uint8Array data = BytesArg(info, 1, "data");
    std::memcpy(At(info, offset, data.ByteLength()), data.Data(), data.ByteLength());
  }

  // Single accesses are acquire loads and release stores (amp-bus.md §4.5): one instruction
  // each on x86 and arm64, so they are also what a device register expects.
  Napi::Value Load(const Napi::CallbackInfo& info) {
    uint64_t offset = IndexArg(info, 0, "offset");
    uint32_t width = WidthArg(info);
    void* p = Word(info, offset, width);
    Napi::Env env = info.Env();
    switch (width) {
      case 8: return Napi::Number::New(env, __atomic_load_n(static_cast<volatile uint8_t*>(p), __ATOMIC_ACQUIRE));
      case 16: return Napi::Number::New(env, __atomic_load_n(static_cast<volatile uint16_t*>(p), __ATOMIC_ACQUIRE));
      case 32: return Napi::Number::New(env, __atomic_load_n(static_cast<volatile uint32_t*>(p), __ATOMIC_ACQUIRE));
      default: return Napi::BigInt::New(env, __atomic_load_n(static_cast<volatile uint64_t*>(p), __ATOMIC_ACQUIRE));
    }
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
    switch (width) {
      case 8: __atomic_store_n(static_cast<volatile uint8_t*>(p), static_cast<uint8_t>(value), __ATOMIC_RELEASE); break;
      case 16: __atomic_store_n(static_cast<volatile uint16_t*>(p), static_cast<uint16_t>(value), __ATOMIC_RELEASE); break;
      case 32: __atomic_store_n(static_cast<volatile uint32_t*>(p), static_cast<uint32_t>(value), __ATOMIC_RELEASE); break;
      default: __atomic_store_n(static_cast<volatile uint64_t*>(p), value, __ATOMIC_RELEASE); break;
    }
  }

  void Fence(const Napi::CallbackInfo& info) {
    At(info, 0, 0);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
  }

  void Unmap(const Napi::CallbackInfo&) { Release(); }

  void Release() {
    if (req_.base != nullptr) munmap(req_.base, req_.mapLength);
    req_.base = nullptr;
  }

  MapRequest req_{};
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
  MapRequest req{nullptr, static_cast<size_t>(length + (offset - aligned)), static_cast<size_t>(offset - aligned), static_cast<size_t>(length), readOnly};
  int prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  void* base = mmap(nullptr, req.mapLength, prot, MAP_SHARED, fd, static_cast<off_t>(aligned));
  if (base == MAP_FAILED) throw ErrnoError(env, "mmap " + what + " at offset " + std::to_string(aligned), errno);
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

// mapFd(fd, offset, length): the fd stays open and owned by the caller.
Napi::Value MapFd(const Napi::CallbackInfo& info) {
  uint64_t fd = IndexArg(info, 0, "fd");
  uint64_t offset = IndexArg(info, 1, "offset");
  uint64_t length = IndexArg(info, 2, "length");
  int flags = fcntl(static_cast<int>(fd), F_GETFL);
  if (flags < 0) throw ErrnoError(info.Env(), "fd " + std::to_string(fd), errno);
  return MapOpenFd(info.Env(), static_cast<int>(fd), offset, length, (flags & O_ACCMODE) == O_RDONLY, "fd " + std::to_string(fd));
}

}  // namespace

void InitMapping(Napi::Env env, Napi::Object exports) {
  ClassesOf(env).mapping = Napi::Persistent(Mapping::Define(env));
  exports.Set("map", Napi::Function::New<Map>(env, "map"));
  exports.Set("mapFd", Napi::Function::New<MapFd>(env, "mapFd"));
}

}  // namespace amp
