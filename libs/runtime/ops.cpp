#include "libs/runtime/ops.h"

#include "libs/core/ids.h"
#include "libs/http/json.h"

namespace oms::runtime {

std::string request_id_of(const http::Request& req) {
  auto rid = req.header("x-request-id");
  return rid && is_token_id(*rid, 128) ? std::string(*rid) : new_uuid();
}

std::optional<http::Response> ops_endpoint(const http::Request& req, const std::function<std::string()>& metrics_text,
                                           const std::function<std::string()>& not_ready) {
  const std::string& p = req.path;
  if (p != "/healthz" && p != "/readyz" && p != "/metrics") return std::nullopt;
  if (req.method != "GET") {
    auto r = http::problem(405, "only GET (and HEAD) is allowed", p);
    r.set_header("Allow", "GET, HEAD");
    return r;
  }
  http::Response r;
  if (p == "/metrics") {
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_text();
  } else if (std::string why = p == "/readyz" ? not_ready() : std::string(); !why.empty()) {
    r = http::problem(503, why, p);
  } else {
    r.body = R"({"status":"UP"})";
  }
  return r;
}

}  // namespace oms::runtime
