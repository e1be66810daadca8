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
    auto [vit, new_key] = f.values.try_emplace(key, 0.0);
    if (new_key) f.order.push_back(key);
    vit->second += v;
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

Gateway::Gateway(GatewayOptions options, const auth::JwtCodec& jwt, runtime::Metrics& metrics,
                 Upstream upstream, std::function<std::string()> not_ready)
    : options_(options), jwt_(jwt), metrics_(metrics), upstream_(std::move(upstream)), not_ready_(std::move(not_ready)) {
  if (options_.rate_limit_rps > 0) limiter_ = std::make_unique<RateLimiter>(options_.rate_limit_rps);
}

// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive (RFC 9110
// 11.1) and may be followed by more than one space; nothing else may follow the token.
std::optional<std::string_view> bearer_token(std::optional<std::string_view> header) {
  if (!header) return std::nullopt;
  std::string_view h = *header;
  constexpr std::string_view kScheme = "bearer";
  if (h.size() <= kScheme.size() || h[kScheme.size()] != ' ') return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return std::nullopt;
  h.remove_prefix(kScheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.empty() || h.find(' ') != std::string_view::npos) return std::nullopt;
  return h;
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
    if (req.method != "POST") {
      auto r = http::problem(405, "only POST is allowed", p);
      r.set_header("Allow", "POST");
      return r;
    }
    return login(req);
  }
  if (p != "/api" && p.rfind("/api/", 0) != 0) return http::problem(404, "no route for " + p, p);

  // Authentication first: without a valid token even an unknown route is a 401.
  auto token = bearer_token(req.header("authorization"));
  if (!token) return http::problem(401, "a Bearer token is required", p);
  auto user = jwt_.verify(*token, now_ms() / 1000);
  if (!user) return http::problem(401, user.error().detail, p);
  if (limiter_ && (!limiter_->allow("u:" + *user, now_ms()) || !limiter_->allow("a:" + req.peer, now_ms())))
    return http::problem(429, "rate limit exceeded", p);
  req.user_id = *user;
  // A client-sent X-User-Id is never trusted: replace it with the token's subject.
  req.set_header("x-user-id", *user);
  return upstream_(req);
}

http::Response Gateway::login(http::Request& req) {
  std::optional<std::string> user;
  if (auto q = req.query_param("userId")) user = std::string(*q);
  if (!user) {
    auto body = http::parse_body(req, /*optional=*/true);
    if (!body) return http::from_error(body.error(), req.path);
    if (!body->is_object()) return http::problem(400, "body must be a JSON object", req.path);
    if (auto* u = body->as_object().if_contains("userId"); u && !u->is_null()) {
      if (!u->is_string()) return http::problem(400, "userId must be a string", req.path);
      user = std::string(u->as_string());
    }
  }
  if (!user) return http::problem(400, "userId is required", req.path);
  if (!auth::valid_user_id(*user))
    return http::problem(400, "userId must be 1-128 characters without control characters", req.path);
  http::JsonWriter w;
  w.begin_object().field("token", jwt_.issue(*user, now_ms() / 1000)).field("tokenType", "Bearer");
  w.field("expiresIn", jwt_.ttl_seconds()).end_object();
  http::Response r;
  r.body = w.take();
  return r;
}

}  // namespace oms::gateway
