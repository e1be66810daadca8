#pragma once
// What every process answers the same way, whatever it hosts: the request id rule and the
// operations endpoints (/healthz, /readyz, /metrics).
#include <functional>
#include <optional>
#include <string>

#include "libs/http/message.h"

namespace oms::runtime {

// The caller's X-Request-Id when it is a sane token (1-128 characters of [A-Za-z0-9._-]),
// otherwise a new UUID.
std::string request_id_of(const http::Request& req);

// Answers GET /healthz (200 while the process serves), /readyz (200, or 503 problem+json with
// the reason not_ready() gives; an empty reason means ready) and /metrics (metrics_text());
// 405 with Allow for another method; nullopt for any other path.
std::optional<http::Response> ops_endpoint(const http::Request& req, const std::function<std::string()>& metrics_text,
                                           const std::function<std::string()>& not_ready);

}  // namespace oms::runtime
