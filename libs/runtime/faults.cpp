#include "libs/runtime/faults.h"

#include <boost/json.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/runtime/audit.h"

namespace oms::runtime {

Faults::Faults(const std::vector<std::string>& operations) {
  for (const auto& op : operations) settings_[op] = Setting{};
}

void Faults::set(const std::string& operation, Setting s) {
  std::lock_guard lock(mu_);
  settings_.at(operation) = s;
  if (s.delay_ms > 0 || s.fail_rate > 0) any_ = true;
}

void Faults::apply(const std::string& operation) const {
  if (!any_.load(std::memory_order_relaxed)) return;  // the usual case: no faults, per message
  Setting s;
  {
    std::lock_guard lock(mu_);
    s = settings_.at(operation);
  }
  if (s.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(s.delay_ms));
  if (s.fail_rate <= 0) return;
  thread_local std::mt19937_64 gen{std::random_device{}()};
  if (std::uniform_real_distribution<double>(0.0, 1.0)(gen) < s.fail_rate)
    throw std::runtime_error("injected fault: " + operation + " failed");
}

std::string Faults::json() const {
  std::lock_guard lock(mu_);
  http::JsonWriter w;
  w.begin_object();
  for (const auto& [op, s] : settings_) {
    char rate[32];
    auto end = std::to_chars(rate, rate + sizeof rate, s.fail_rate).ptr;  // shortest form: 0.25, 1, 0
    w.key(op).begin_object().field("delayMs", s.delay_ms).key("failRate").raw(std::string_view(rate, end - rate));
    w.end_object();
  }
  w.end_object();
  return w.take();
}

Result<void> Faults::replace(std::string_view body) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return fail(Errc::kInvalid, "body must be a JSON object of operations");
  std::map<std::string, Setting> next;
  {
    std::lock_guard lock(mu_);
    for (const auto& [op, s] : settings_) next[op] = Setting{};
  }
  for (const auto& [key, value] : v.as_object()) {
    std::string op(key);
    if (!next.count(op)) {
      std::string known;
      for (const auto& [name, s] : next) known += (known.empty() ? "" : ", ") + name;
      return fail(Errc::kInvalid, op + ": no such operation here (" + known + ")");
    }
    if (!value.is_object()) return fail(Errc::kInvalid, op + " must be an object");
    Setting s;
    for (const auto& [field, x] : value.as_object()) {
      if (field == "delayMs") {
        if (!x.is_int64() || x.as_int64() < 0 || x.as_int64() > 60000)
          return fail(Errc::kInvalid, op + ".delayMs must be an integer from 0 to 60000");
        s.delay_ms = x.as_int64();
      } else if (field == "failRate") {
        if (!x.is_number() || x.to_number<double>() < 0.0 || x.to_number<double>() > 1.0)
          return fail(Errc::kInvalid, op + ".failRate must be a number from 0.0 to 1.0");
        s.fail_rate = x.to_number<double>();
      } else {
        return fail(Errc::kInvalid, op + "." + std::string(field) + ": unknown field (delayMs, failRate)");
      }
    }
    next[op] = s;
  }
  std::lock_guard lock(mu_);
  settings_ = std::move(next);
  any_ = std::any_of(settings_.begin(), settings_.end(),
                     [](const auto& e) { return e.second.delay_ms > 0 || e.second.fail_rate > 0; });
  return {};
}

void register_fault_routes(ServiceContext& ctx, const std::string& service, std::shared_ptr<Faults> faults) {
  if (!ctx.settings.fault_injection) return;
  std::string path = "/api/admin/" + service + "/faults";
  ctx.router.add("GET", path, Role::kAdmin, [faults](http::Request&) { return http::json_text(200, faults->json()); });
  auto& db = ctx.db;
  ctx.router.add("PUT", path, Role::kAdmin, [faults, &db, service](http::Request& req) {
    if (auto ct = req.header("content-type"); !ct || ct->find("json") == std::string_view::npos)
      return http::problem(415, "the body must be JSON (Content-Type: application/json)", req.path);
    if (auto r = faults->replace(req.body); !r) return http::from_error(r.error(), req.path);
    std::string now = faults->json();
    log::warn({service, req.request_id}, "fault injection set by " + req.user_id + ": " + now);
    db.write([&](storage::Tx& tx) { audit(tx, req, "faults.set", service, now); });
    return http::json_text(200, now);
  });
}

}  // namespace oms::runtime
