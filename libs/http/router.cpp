#include "libs/http/router.h"

#include "libs/http/json.h"

namespace oms::http {
namespace {

std::vector<std::string_view> split(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string_view>& parts,
           Request* req) {
  if (pattern.size() != parts.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (req) req->params[p.substr(1, p.size() - 2)] = std::string(parts[i]);
    } else if (p != parts[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Role least, Handler handler) {
  std::vector<std::string> segs;
  for (auto s : split(pattern)) segs.emplace_back(s);
  routes_.push_back(Route{std::move(method), std::move(segs), least, std::move(handler)});
}

void Router::merge(const Router& other) {
  routes_.insert(routes_.end(), other.routes_.begin(), other.routes_.end());
}

bool Router::knows(std::string_view path) const {
  auto parts = split(path);
  for (const auto& r : routes_)
    if (match(r.segments, parts, nullptr)) return true;
  return false;
}

Response Router::dispatch(Request& req) const {
  auto parts = split(req.path);
  std::string allow;
  // Literal segments win over parameters: try exact routes first, then parameterised ones.
  const Route* best = nullptr;
  int best_params = 1 << 30;
  for (const auto& r : routes_) {
    if (!match(r.segments, parts, nullptr)) continue;
    if (r.method != req.method) {
      if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
      if (r.method == "GET" && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
      continue;
    }
    int params = 0;
    for (const auto& s : r.segments) params += (!s.empty() && s.front() == '{');
    if (params < best_params) {
      best = &r;
      best_params = params;
    }
  }
  if (best) {
    req.params.clear();
    match(best->segments, parts, &req);
    if (req.role < best->least)
      return problem(403, "the " + std::string(to_string(best->least)) + " role is required for " + req.method + " " +
                              req.path, req.path);
    return best->handler(req);
  }
  if (!allow.empty()) {
    Response r = problem(405, "method " + (req.head ? std::string("HEAD") : req.method) + " is not allowed on " + req.path, req.path);
    r.set_header("Allow", allow);
    return r;
  }
  return problem(404, "no route for " + req.path, req.path);
}

}  // namespace oms::http
