// Entry point of the amp_native addon (contract: main/native/index.ts).
#include <cerrno>
#include <cmath>
#include <cstring>

#include "common.h"
#include "ringwatch.h"

namespace amp {

Classes& ClassesOf(Napi::Env env) { return *env.GetInstanceData<Classes>(); }

Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err) {
  return Napi::Error::New(env, what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}

uint64_t IndexArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d) return static_cast<uint64_t>(d);
  }
  throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a non-negative integer");
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a Uint8Array");
  }
  return v.As<Napi::Uint8Array>();
}

Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsFunction()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a function");
  return info[i].As<Napi::Function>();
}

}  // namespace amp

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new amp::Classes());
  amp::InitMapping(env, exports);
  amp::InitWatch(env, exports);
  amp::InitRingWatch(env, exports);
  amp::InitFds(env, exports);
  amp::InitIoctl(env, exports);
  return exports;
}

NODE_API_MODULE(amp_native, Init)
