// ioctl with a pointer to one u32 argument, run on a libuv pool thread: the loopback bus's
// IOCTL_VMSG_LB_ADD returns only after the kernel brought the device up, which takes answers
// this process writes from its main thread (docs/linux-loopback.md §2).
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace amp {
namespace {

class IoctlWorker : public Napi::AsyncWorker {
 public:
  IoctlWorker(Napi::Env env, int fd, unsigned long request, uint32_t value)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), request_(request), value_(value) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    uint32_t arg = value_;
    if (ioctl(fd_, request_, &arg) < 0) err_ = errno;
  }

  void OnOK() override {
    if (err_ == 0) deferred_.Resolve(Env().Undefined());
    else deferred_.Reject(ErrnoError(Env(), "ioctl", err_).Value());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  unsigned long request_;
  uint32_t value_;
  int err_ = 0;
};

Napi::Value IoctlU32(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(IndexArg(info, 0, "fd"));
  unsigned long request = static_cast<unsigned long>(IndexArg(info, 1, "request"));
  uint32_t value = static_cast<uint32_t>(IndexArg(info, 2, "value"));
  auto* worker = new IoctlWorker(info.Env(), fd, request, value);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitIoctl(Napi::Env env, Napi::Object exports) {
  exports.Set("ioctlU32", Napi::Function::New<IoctlU32>(env, "ioctlU32"));
}

}  // namespace amp
