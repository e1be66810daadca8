#include "services/gateway/gateway.h"

#include <boost/json.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "libs/core/clock.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/runtime/ops.h"

namespace oms::gateway {

namespace {

struct Family {
  std::vector<std::string> meta;  // # HELP / # TYPE lines
  std::vector<std::string> order;  // sample keys in first-seen order
  std::map<std::string, double> values;
  bool gauge = false;  // a level, not a count: replicas report the same one (their shared database)
};

// Adds the families of one exposition text to `out`: the gateway's own oms_http_* families
// from its own text, every other family from the services' texts.
void collect(const std::string& text, std::vector<std::string>& names, std::map<std::string, Family>& out,
             bool own) {
  std::string family;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    if (line.starts_with("# TYPE ") || line.starts_with("# HELP ")) {
      std::string_view rest = line.substr(7);
      family = std::string(rest.substr(0, rest.find(' ')));
    } else if (line.starts_with("#")) {
      continue;
    }
    bool http = family.starts_with("oms_http_");
    if (http != own || family.empty()) continue;
    auto [it, fresh] = out.try_emplace(family);
    if (fresh) names.push_back(family);
    Family& f = it->second;
    if (line.starts_with("#")) {
      if (std::find(f.meta.begin(), f.meta.end(), line) == f.meta.end()) f.meta.emplace_back(line);
      if (line.starts_with("# TYPE ") && line.ends_with(" gauge")) f.gauge = true;
      continue;
    }
    auto space = line.rfind(' ');
    if (space == std::string_view::npos) continue;
    std::string key(line.substr(0, space));
    double v = 0;
    try {
      v = std::stod(std::string(line.substr(space + 1)));
    } catch (...) {
      continue;
    }
    auto [vit, new_key] = f.values.try_emplace(key, v);
    if (new_key) f.order.push_back(key);
    else vit->second = f.gauge ? std::max(vit->second, v) : vit->second + v;
  }
}

std::string format_value(double v) {
  if (v == static_cast<double>(static_cast<long long>(v)) && std::abs(v) < 1e15)
    return std::to_string(static_cast<long long>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string merge_metrics(const std::string& own, const std::vector<std::string>& services) {
  std::vector<std::string> names;
  std::map<std::string, Family> families;
  collect(own, names, families, /*own=*/true);
  for (const auto& text : services) collect(text, names, families, /*own=*/false);
  std::string out;
  for (const auto& name : names) {
    const Family& f = families[name];
    for (const auto& m : f.meta) out += m + "\n";
    for (const auto& key : f.order) out += key + " " + format_value(f.values.at(key)) + "\n";
  }
  return out;
}

bool RateLimiter::allow(const std::string& key, std::int64_t now) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst_, b.tokens + (now - b.at_ms) * rps_ / 1000.0);
  b.at_ms = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  if (buckets_.size() > 100'000) buckets_.clear();  // bounded memory under address churn
  return true;
}

Gateway::Gateway(GatewayOptions options, const auth::Access& access, runtime::Metrics& metrics,
                 Upstream upstream, std::function<std::string()> not_ready)
    : options_(std::move(options)), access_(access), metrics_(metrics), upstream_(std::move(upstream)), not_ready_(std::move(not_ready)) {
  if (options_.rate_limit_rps > 0) limiter_ = std::make_unique<RateLimiter>(options_.rate_limit_rps);
}

http::Response Gateway::handle(http::Request& req) {
  req.request_id = runtime::request_id_of(req);
  log::RequestScope scope(req.request_id);
  auto start = std::chrono::steady_clock::now();
  http::Response res = route(req);
  metrics_.http_duration.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  res.set_header("X-Request-Id", req.request_id);
  metrics_.http_request(req.method, res.status).Increment();
  // A 503 is load shed on purpose (admission control, rate limits) or a dependency that is down,
  // which its service logs once as it happens: counted in oms_http_requests_total, not logged
  // per request (a client retrying against a full system would write a line per attempt).
  bool error = res.status >= 500 && res.status != 503;
  if (error || log::enabled(log::Level::kDebug))
    log::write(error ? log::Level::kError : log::Level::kDebug, {"gateway", req.request_id},
               req.method + " " + req.path + " " + std::to_string(res.status));
  return res;
}

http::Response Gateway::route(http::Request& req) {
  const std::string& p = req.path;
  auto metrics_text = [this] { return options_.metrics_text ? options_.metrics_text() : metrics_.serialize(); };
  if (auto r = runtime::ops_endpoint(req, metrics_text, not_ready_)) return std::move(*r);
  if (p == "/auth/login" || p == "/api/auth/login") {
    if (!options_.issuer) return http::problem(404, "no login here: tokens come from the identity provider", p);
    if (req.method != "POST") {
      auto r = http::problem(405, "only POST is allowed", p);
      r.set_header("Allow", "POST");
      return r;
    }
    return login(req);
  }
  if (p != "/api" && p.rfind("/api/", 0) != 0) return http::problem(404, "no route for " + p, p);

  // Authentication first: without a valid token even an unknown route is a 401.
  auto who = access_.authenticate(req.header("authorization"), now_ms() / 1000);
  if (!who) return http::from_error(who.error(), p);
  if (limiter_ && (!limiter_->allow("u:" + who->user, now_ms()) || !limiter_->allow("a:" + req.peer, now_ms())))
    return http::problem(429, "rate limit exceeded", p);
  req.user_id = who->user;
  req.role = who->role;
  // A client-sent X-User-Id is never trusted: replace it with the token's subject (for the logs
  // of a service; the services verify the forwarded token themselves).
  req.set_header("x-user-id", who->user);
  return upstream_(req);
}

std::int64_t LoginGuard::blocked_for(const std::vector<std::string>& keys, std::int64_t now) {
  std::lock_guard lock(mu_);
  std::int64_t wait = 0;
  for (const auto& k : keys) {
    auto it = windows_.find(k);
    if (it == windows_.end()) continue;
    if (now - it->second.start_ms >= kWindowMs) {
      windows_.erase(it);
      continue;
    }
    if (it->second.failures >= (k.starts_with("a:") ? kMaxPerAddress : kMaxPerUser))
      wait = std::max(wait, (it->second.start_ms + kWindowMs - now + 999) / 1000);
  }
  return wait;
}

void LoginGuard::failed(const std::vector<std::string>& keys, std::int64_t now) {
  std::lock_guard lock(mu_);
  if (windows_.size() > 100'000) {  // bounded memory under address churn: the stale go first
    std::erase_if(windows_, [now](const auto& w) { return now - w.second.start_ms >= kWindowMs; });
    if (windows_.size() > 100'000) windows_.clear();
  }
  for (const auto& k : keys) {
    auto [it, fresh] = windows_.try_emplace(k, Window{now, 0});
    if (now - it->second.start_ms >= kWindowMs) it->second = Window{now, 0};
    ++it->second.failures;
  }
}

void LoginGuard::succeeded(const std::string& key) {
  std::lock_guard lock(mu_);
  windows_.erase(key);
}

namespace {

// Compares without an early exit, so that the time taken says nothing about the password (only
// about the length of what was given).
bool same_secret(std::string_view given, std::string_view expected) {
  if (expected.empty()) return false;
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i] ^ expected[i % expected.size()]);
  return diff == 0;
}

}  // namespace

http::Response Gateway::login(http::Request& req) {
  const std::string& p = req.path;
  if (req.query_param("password")) return http::problem(400, "the password goes in the JSON body, never in the URL", p);
  std::optional<std::string> user, password;
  if (auto q = req.query_param("userId")) user = std::string(*q);
  auto body = http::parse_body(req, /*optional=*/true);
  if (!body) return http::from_error(body.error(), p);
  if (!body->is_null()) {
    if (!body->is_object()) return http::problem(400, "body must be a JSON object", p);
    const auto& o = body->as_object();
    if (auto* u = o.if_contains("userId"); u && !u->is_null() && !user) {
      if (!u->is_string()) return http::problem(400, "userId must be a string", p);
      user = std::string(u->as_string());
    }
    if (auto* w = o.if_contains("password"); w && !w->is_null()) {
      if (!w->is_string()) return http::problem(400, "password must be a string", p);
      password = std::string(w->as_string());
    }
  }
  if (!user) return http::problem(400, "userId is required", p);
  if (!auth::valid_user_id(*user)) return http::problem(400, "userId must be 1-128 characters without control characters", p);
  Role role = access_.listed(*user);
  if (role > Role::kCustomer) {
    // Staff and admin prove it with the operator password; failures are limited per user id and
    // per address, so that neither one user id nor one address can guess at speed.
    std::vector<std::string> keys = {"u:" + *user, "a:" + req.peer};
    if (auto wait = guard_.blocked_for(keys, now_ms())) {
      auto r = http::problem(429, "too many failed logins; try again later", p);
      r.set_header("Retry-After", std::to_string(wait));
      return r;
    }
    if (!password)  // not a guess (`oms login` asks for the password after this answer): not counted
      return http::problem(401, "staff and admin logins need the operator password", p);
    if (!same_secret(*password, options_.operator_password)) {
      guard_.failed(keys, now_ms());
      log::warn({"gateway", req.request_id}, "failed " + std::string(to_string(role)) + " login for " + *user + " from " + req.peer);
      return http::problem(401, "staff and admin logins need the operator password", p);
    }
    guard_.succeeded("u:" + *user);
  }
  const auto& jwt = *options_.issuer;
  http::JsonWriter w;
  w.begin_object().field("token", jwt.issue(*user, role, now_ms() / 1000)).field("tokenType", "Bearer");
  w.field("expiresIn", jwt.ttl_seconds(role)).field("role", to_string(role)).end_object();
  http::Response r;
  r.body = w.take();
  return r;
}

}  // namespace oms::gateway
