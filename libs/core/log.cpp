#include "libs/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <stdexcept>

namespace oms::log {
namespace {

std::shared_ptr<spdlog::logger>& logger() {
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_logger_mt("oms");
    lg->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v)", spdlog::pattern_time_type::utc);
    return lg;
  }();
  return l;
}

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

std::string quote(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

}  // namespace

void init(std::string_view level) {
  Level l;
  if (level == "trace") l = Level::kTrace;
  else if (level == "debug") l = Level::kDebug;
  else if (level == "info") l = Level::kInfo;
  else if (level == "warn") l = Level::kWarn;
  else if (level == "error") l = Level::kError;
  else throw std::invalid_argument("unknown log level: " + std::string(level));
  logger()->set_level(to_spd(l));
  logger()->flush_on(spdlog::level::warn);
}

bool enabled(Level level) { return logger()->should_log(to_spd(level)); }

namespace {
thread_local std::string t_request_id;
}  // namespace

const std::string& current_request_id() { return t_request_id; }

RequestScope::RequestScope(std::string_view id) : previous_(std::move(t_request_id)) { t_request_id = id; }
RequestScope::~RequestScope() { t_request_id = std::move(previous_); }

void write(Level level, const Fields& f, std::string_view msg) {
  if (!enabled(level)) return;
  std::string line = "\"service\":" + quote(f.service);
  std::string_view rid = f.request_id.empty() ? std::string_view(t_request_id) : f.request_id;
  if (!rid.empty()) line += ",\"requestId\":" + quote(rid);
  if (!f.order_id.empty()) line += ",\"orderId\":" + quote(f.order_id);
  line += ",\"msg\":" + quote(msg) + "}";
  logger()->log(to_spd(level), line);
}

}  // namespace oms::log
