#include "libs/http/json.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

namespace oms::http {

int status_of(Errc code) {
  switch (code) {
    case Errc::kInvalid: return 400;
    case Errc::kUnauthorized: return 401;
    case Errc::kForbidden: return 403;
    case Errc::kNotFound: return 404;
    case Errc::kConflict: return 409;
    case Errc::kTooLarge: return 413;
    case Errc::kUnsupportedMedia: return 415;
    case Errc::kUnprocessable: return 422;
    case Errc::kRateLimited: return 429;
    case Errc::kUnavailable: return 503;
  }
  return 500;
}

namespace {
std::string_view title_of(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}
}  // namespace

Response json(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

Response problem(int status, std::string_view detail, std::string_view instance) {
  boost::json::object o;
  o["type"] = "about:blank";
  o["title"] = title_of(status);
  o["status"] = status;
  o["detail"] = detail;
  o["instance"] = instance;
  Response r = json(status, o);
  r.content_type = "application/problem+json";
  if (status == 401) r.set_header("WWW-Authenticate", "Bearer");
  if (status == 503 || status == 429) r.set_header("Retry-After", "1");
  return r;
}

Response from_error(const Error& e, std::string_view instance) {
  return problem(status_of(e.code), e.detail, instance);
}

Result<boost::json::value> parse_body(const Request& req, bool optional) {
  auto ct = req.header("content-type");
  bool empty = req.body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (optional && empty) return boost::json::value(boost::json::object{});
  if (!ct) return fail(Errc::kUnsupportedMedia, "Content-Type must be application/json");
  std::string_view type = *ct;
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  bool is_json = type.size() == 16 && std::equal(type.begin(), type.end(), "application/json",
                                                 [](char a, char b) { return std::tolower(a) == b; });
  if (!is_json) return fail(Errc::kUnsupportedMedia, "Content-Type must be application/json");
  if (empty) return fail(Errc::kInvalid, "request body is required");
  boost::json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  auto v = boost::json::parse(req.body, ec, {}, opts);
  if (ec) return fail(Errc::kInvalid, "malformed JSON body: " + ec.message());
  return v;
}

Result<int> parse_limit(const Request& req) {
  auto raw = req.query_param("limit");
  if (!raw) return 100;
  long long v = 0;
  auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
  if (ec == std::errc::result_out_of_range && p == raw->data() + raw->size() && !raw->empty() &&
      (*raw)[0] != '-')
    return 1000;
  if (ec != std::errc() || p != raw->data() + raw->size() || v < 1)
    return fail(Errc::kInvalid, "limit must be an integer >= 1");
  return static_cast<int>(std::min<long long>(v, 1000));
}

}  // namespace oms::http
