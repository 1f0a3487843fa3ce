// Shared helpers of the amp_native addon: argument checks and errno errors.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace amp {

// A JS Error "<what>: <strerror(err)> (errno N)".
Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err);

// A non-negative safe integer argument, or a TypeError that names it.
uint64_t IndexArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// A string argument, or a TypeError that names it.
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// A Uint8Array argument, or a TypeError that names it.
Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// A function argument, or a TypeError that names it.
Napi::Function FunctionArg(const Napi::CallbackInfo& info, size_t i, const char* name);

// The addon's classes, kept per environment (worker threads load the addon again).
struct Classes {
  Napi::FunctionReference mapping;
  Napi::FunctionReference watch;
  Napi::FunctionReference ringWatch;
};
Classes& ClassesOf(Napi::Env env);

// Per-module registration, called from addon.cc.
void InitMapping(Napi::Env env, Napi::Object exports);
void InitWatch(Napi::Env env, Napi::Object exports);
void InitFds(Napi::Env env, Napi::Object exports);
void InitIoctl(Napi::Env env, Napi::Object exports);

}  // namespace amp
