#pragma once
// Structured logs: one JSON object per line on stderr, with service, request id and order id
// where known. spdlog does the buffering and thread safety; we only shape the line.
#include <string>
#include <string_view>

namespace oms::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError };

void init(std::string_view level);  // "trace".."error"; throws on an unknown level
bool enabled(Level level);

struct Fields {
  std::string_view service;
  std::string_view request_id = {};
  std::string_view order_id = {};
};

// Lines without an explicit request id take the current thread's (set by the gateway for a
// request, and by the consumer for each message, which carries the id of the request that
// caused it): a request id appears in the logs of every service it touched.
void write(Level level, const Fields& f, std::string_view msg);

const std::string& current_request_id();

class RequestScope {
 public:
  explicit RequestScope(std::string_view request_id);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;

 private:
  std::string previous_;
};

inline void info(const Fields& f, std::string_view msg) { write(Level::kInfo, f, msg); }
inline void warn(const Fields& f, std::string_view msg) { write(Level::kWarn, f, msg); }
inline void error(const Fields& f, std::string_view msg) { write(Level::kError, f, msg); }
inline void debug(const Fields& f, std::string_view msg) { write(Level::kDebug, f, msg); }

}  // namespace oms::log
