#pragma once
// JSON responses, RFC 9457 problem details, and the one table that maps Errc to HTTP status.
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "libs/core/error.h"
#include "libs/http/message.h"

namespace oms::http {

Response json(int status, const boost::json::value& body);
// A response whose body is already serialized JSON (from JsonWriter).
Response json_text(int status, std::string body);
Response problem(int status, std::string_view detail, std::string_view instance);
Response from_error(const Error& e, std::string_view instance);
int status_of(Errc code);

// Parses a required JSON body: 415 without a JSON content type, 400 for malformed JSON (depth
// limited, so hostile nesting cannot exhaust the stack). An empty body is allowed only when
// `optional` is set (and yields an empty object).
Result<boost::json::value> parse_body(const Request& req, bool optional = false);

// Query parameter `limit`: default 100, clamped to 1000, 400 if not a positive integer.
Result<int> parse_limit(const Request& req);
// `before=<id>` of a list (API.md: keyset paging): absent, or a UUID (lower-cased); else 400.
Result<std::optional<std::string>> parse_before(const Request& req);

}  // namespace oms::http
