// File-descriptor helpers: eventfds (QEMU ivshmem doorbells), UNIX sockets and SCM_RIGHTS
// (the ivshmem-server hands out its shared memory and eventfds that way).
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common.h"

namespace amp {
namespace {

// More than an ivshmem-server sends in one message (shared memory fd, or one eventfd per vector).
constexpr size_t kMaxFds = 64;

int FdArg(const Napi::CallbackInfo& info, size_t i) { return static_cast<int>(IndexArg(info, i, "fd")); }

Napi::Value EventFd(const Napi::CallbackInfo& info) {
  uint64_t initial = info[0].IsUndefined() ? 0 : IndexArg(info, 0, "initial");
  if (initial > 0xffffffffu) throw Napi::RangeError::New(info.Env(), "initial: an eventfd starts from an unsigned 32-bit count");
  int fd = eventfd(static_cast<unsigned>(initial), EFD_CLOEXEC);
  if (fd < 0) throw ErrnoError(info.Env(), "eventfd", errno);
  return Napi::Number::New(info.Env(), fd);
}

void EventFdWrite(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  uint64_t value = IndexArg(info, 1, "value");
  while (write(fd, &value, sizeof value) < 0) {
    if (errno != EINTR) throw ErrnoError(info.Env(), "write eventfd " + std::to_string(fd), errno);
  }
}

void CloseFd(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  if (close(fd) != 0 && errno != EINTR) throw ErrnoError(info.Env(), "close fd " + std::to_string(fd), errno);
}

Napi::Value UnixConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    throw Napi::RangeError::New(env, "socket path " + path + " is " + std::to_string(path.size()) + " bytes; at most " +
                                         std::to_string(sizeof addr.sun_path - 1) + " fit a sockaddr_un");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(env, "socket", errno);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, "connect " + path, err);
  }
  return Napi::Number::New(env, fd);
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw ErrnoError(env, "socketpair", errno);
  Napi::Array pair = Napi::Array::New(env, 2);
  pair.Set(0u, sv[0]);
  pair.Set(1u, sv[1]);
  return pair;
}

// recvWithFds(fd, maxBytes, timeoutMs) → { data, fds } | null on timeout.
Napi::Value RecvWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  uint64_t maxBytes = IndexArg(info, 1, "maxBytes");
  uint64_t timeoutMs = IndexArg(info, 2, "timeoutMs");
  if (maxBytes == 0 || maxBytes > (1u << 20)) throw Napi::RangeError::New(env, "maxBytes: expected 1 to 1048576");
  pollfd p{fd, POLLIN, 0};
  int ready;
  while ((ready = poll(&p, 1, timeoutMs > 0x7fffffff ? 0x7fffffff : static_cast<int>(timeoutMs))) < 0) {
    if (errno != EINTR) throw ErrnoError(env, "poll fd " + std::to_string(fd), errno);
  }
  if (ready == 0) return env.Null();
  std::vector<uint8_t> buf(maxBytes);
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) throw ErrnoError(env, "recvmsg fd " + std::to_string(fd), errno);
  }
  Napi::Array fds = Napi::Array::New(env);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.Set(fds.Length(), received);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (uint32_t i = 0; i < fds.Length(); i++) close(fds.Get(i).As<Napi::Number>().Int32Value());
    throw Napi::Error::New(env, "recvmsg fd " + std::to_string(fd) + ": the peer sent more than " + std::to_string(kMaxFds) +
                                    " file descriptors in one message; they were dropped");
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Uint8Array data = Napi::Uint8Array::New(env, static_cast<size_t>(n));
  std::memcpy(data.Data(), buf.data(), static_cast<size_t>(n));
  out.Set("data", data);
  out.Set("fds", fds);
  return out;
}

// sendWithFds(fd, data, fds): one sendmsg; a stream socket needs at least one data byte to carry fds.
void SendWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  Napi::Uint8Array data = BytesArg(info, 1, "data");
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "fds: expected an array of file descriptors");
  Napi::Array list = info[2].As<Napi::Array>();
  if (list.Length() > kMaxFds) throw Napi::RangeError::New(env, "fds: at most " + std::to_string(kMaxFds) + " per message");
  if (list.Length() > 0 && data.ByteLength() == 0) throw Napi::RangeError::New(env, "data: file descriptors travel with at least one data byte");
  std::vector<int> fds;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0) throw Napi::TypeError::New(env, "fds: expected non-negative integers");
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  iovec iov{data.Data(), data.ByteLength()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  while ((n = sendmsg(fd, &msg, MSG_NOSIGNAL)) < 0) {
    if (errno != EINTR) throw ErrnoError(env, "sendmsg fd " + std::to_string(fd), errno);
  }
  if (static_cast<size_t>(n) != data.ByteLength()) {
    throw Napi::Error::New(env, "sendmsg fd " + std::to_string(fd) + ": sent " + std::to_string(n) + " of " + std::to_string(data.ByteLength()) + " bytes");
  }
}

}  // namespace

void InitFds(Napi::Env env, Napi::Object exports) {
  exports.Set("eventfd", Napi::Function::New<EventFd>(env, "eventfd"));
  exports.Set("eventfdWrite", Napi::Function::New<EventFdWrite>(env, "eventfdWrite"));
  exports.Set("closeFd", Napi::Function::New<CloseFd>(env, "closeFd"));
  exports.Set("unixConnect", Napi::Function::New<UnixConnect>(env, "unixConnect"));
  exports.Set("socketpair", Napi::Function::New<SocketPair>(env, "socketpair"));
  exports.Set("recvWithFds", Napi::Function::New<RecvWithFds>(env, "recvWithFds"));
  exports.Set("sendWithFds", Napi::Function::New<SendWithFds>(env, "sendWithFds"));
}

}  // namespace amp
