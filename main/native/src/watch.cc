// watchFile()/watchFd(): interrupt waits on a thread of their own (a blocking read of /dev/uioN
// or an eventfd would otherwise hold one of libuv's four pool threads; stack.md §8), delivered
// to JS through a thread-safe function. close() wakes the thread through a self-pipe.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "common.h"

namespace amp {
namespace {

struct Event {
  bool error;
  double value;
  std::string message;
};

struct Watcher {
  int fd = -1;
  bool ownsFd = false;
  int wake[2] = {-1, -1};
  size_t readSize = 4;
  std::string label;
  std::thread thread;
  std::atomic<bool> closed{false};
  Napi::FunctionReference onData;
  Napi::FunctionReference onError;
  Napi::ThreadSafeFunction tsfn;

  ~Watcher() { Stop(); }

  // Idempotent: tells the thread to leave, waits for it, then closes what the watch opened
  // (so a FIFO's writer sees the reader gone).
  void Stop() {
    if (!closed.exchange(true) && wake[1] >= 0) {
      char byte = 1;
      while (write(wake[1], &byte, 1) < 0 && errno == EINTR) {
      }
    }
    if (thread.joinable()) thread.join();
    if (ownsFd && fd >= 0) close(fd);
    fd = -1;
    for (int& w : wake) {
      if (w >= 0) close(w);
      w = -1;
    }
  }

  void Deliver(Event* ev) {
    tsfn.BlockingCall(ev, [this](Napi::Env env, Napi::Function, Event* raw) {
      std::unique_ptr<Event> e(raw);
      if (closed) return;
      try {
        if (e->error)
          onError.Call({Napi::String::New(env, e->message)});
        else
          onData.Call({Napi::Number::New(env, e->value)});
      } catch (const Napi::Error& err) {
        err.ThrowAsJavaScriptException();  // reported as an uncaught exception, like any callback's
      }
    });
  }

  void Run() {
    uint8_t buf[8];
    size_t got = 0;
    std::string failure;
    for (;;) {
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        failure = "poll " + label + ": " + std::strerror(errno);
        break;
      }
      if (fds[1].revents != 0) break;  // close()
      if (fds[0].revents & POLLNVAL) {
        failure = label + " was closed while watched";
        break;
      }
      if (fds[0].revents == 0) continue;
      // A read that returns fewer bytes (a FIFO written byte by byte) is completed by the next.
      ssize_t n = read(fd, buf + got, readSize - got);
      if (n > 0) {
        got += static_cast<size_t>(n);
        if (got < readSize) continue;
        got = 0;
        uint64_t v = 0;
        if (readSize == 4) {
          uint32_t v32;
          std::memcpy(&v32, buf, 4);
          v = v32;
        } else {
          std::memcpy(&v, buf, 8);
        }
        Deliver(new Event{false, static_cast<double>(v), {}});
        continue;
      }
      if (n == 0) {
        failure = "end of file on " + label + " (the writer closed it)";
        break;
      }
      if (errno == EAGAIN || errno == EINTR) continue;
      failure = "read " + label + ": " + std::strerror(errno) + " (errno " + std::to_string(errno) + ")";
      break;
    }
    if (!failure.empty()) Deliver(new Event{true, 0, failure});
    tsfn.Release();
  }
};

class Watch : public Napi::ObjectWrap<Watch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatch", {InstanceMethod<&Watch::Close>("close")});
  }
  explicit Watch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Watch>(info) {
    if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "FdWatch is made by watchFile() or watchFd()");
    watcher_ = *info[0].As<Napi::External<std::shared_ptr<Watcher>>>().Data();
  }

 private:
  void Close(const Napi::CallbackInfo&) { watcher_->Stop(); }
  std::shared_ptr<Watcher> watcher_;
};

// Starts the thread on `fd` (args 1..3: readSize, onData, onError).
Napi::Value Start(const Napi::CallbackInfo& info, int fd, bool ownsFd, const std::string& label) {
  Napi::Env env = info.Env();
  auto w = std::make_shared<Watcher>();
  w->fd = fd;
  w->ownsFd = ownsFd;
  w->label = label;
  uint64_t readSize = IndexArg(info, 1, "readSize");
  if (readSize != 4 && readSize != 8) throw Napi::RangeError::New(env, "readSize: expected 4 (UIO) or 8 (eventfd)");
  w->readSize = readSize;
  w->onData = Napi::Persistent(FunctionArg(info, 2, "onData"));
  w->onError = Napi::Persistent(FunctionArg(info, 3, "onError"));
  if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) != 0) throw ErrnoError(env, "pipe2", errno);
  // The finalizer holds the last reference, so queued deliveries never outlive the watcher.
  auto* keep = new std::shared_ptr<Watcher>(w);
  w->tsfn = Napi::ThreadSafeFunction::New(env, Napi::Function(), "amp-native-watch", 0, 1, keep,
                                          [](Napi::Env, std::shared_ptr<Watcher>* k) { delete k; });
  w->thread = std::thread([raw = w.get()] { raw->Run(); });
  return ClassesOf(env).watch.New({Napi::External<std::shared_ptr<Watcher>>::New(env, &w)});
}

// watchFile(path, readSize, onData, onError): opens non-blocking, so a FIFO without a writer
// does not block the open, and reads only after poll() says so.
Napi::Value WatchFile(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(info.Env(), "open " + path, errno);
  try {
    return Start(info, fd, true, path);
  } catch (...) {
    close(fd);
    throw;
  }
}

// watchFd(fd, readSize, onData, onError): the fd stays owned by the caller.
Napi::Value WatchFd(const Napi::CallbackInfo& info) {
  uint64_t fd = IndexArg(info, 0, "fd");
  return Start(info, static_cast<int>(fd), false, "fd " + std::to_string(fd));
}

}  // namespace

void InitWatch(Napi::Env env, Napi::Object exports) {
  ClassesOf(env).watch = Napi::Persistent(Watch::Define(env));
  exports.Set("watchFile", Napi::Function::New<WatchFile>(env, "watchFile"));
  exports.Set("watchFd", Napi::Function::New<WatchFd>(env, "watchFd"));
}

}  // namespace amp
