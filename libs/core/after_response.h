#pragma once
// Work a thread does once the answer to the request it is handling is on its way.
//
// The HTTP server opens a scope around each handler call; code deep inside (the outbox relay,
// told of a commit) defers work to it instead of running it before the response leaves. The
// work still runs on the same thread, right after the response was handed to the I/O thread:
// no hand-off is added, and the client no longer waits for it (docs/adr/0009).
// Outside a scope (a consumer's thread, a timer) defer() says no and the caller runs the work now.
#include <exception>
#include <functional>
#include <utility>
#include <vector>

namespace oms::core {

class AfterResponse {
 public:
  AfterResponse() : outer_(current()) { current() = this; }
  // Runs the queued work, outside the scope: what it commits runs its own follow-ups at once.
  ~AfterResponse() {
    current() = outer_;
    for (auto& [k, f] : work_) {
      try {
        f();
      } catch (const std::exception&) {
        // The deferred work has a fallback of its own (the relay's thread polls); never throw here.
      }
    }
  }
  AfterResponse(const AfterResponse&) = delete;
  AfterResponse& operator=(const AfterResponse&) = delete;

  // Queues fn unless work with the same key is already queued; false when no scope is open.
  static bool defer(const void* key, std::function<void()> fn) {
    AfterResponse* s = current();
    if (!s) return false;
    for (const auto& [k, f] : s->work_)
      if (k == key) return true;
    s->work_.emplace_back(key, std::move(fn));
    return true;
  }

 private:
  static AfterResponse*& current() {
    static thread_local AfterResponse* s = nullptr;
    return s;
  }
  AfterResponse* outer_;
  std::vector<std::pair<const void*, std::function<void()>>> work_;
};

}  // namespace oms::core
