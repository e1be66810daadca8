#include "libs/http/json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "libs/core/ids.h"

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
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}
}  // namespace

namespace {

// True when the decimal number written as `text` (JSON number syntax) is a whole number of
// hundredths, judged on the text itself: 50, 50.5, 50.50, 50.500 and 5.05e1 are; 50.001 and
// 50.000000000001 are not (a double cannot tell the last one from 50).
bool whole_hundredths(std::string_view text) {
  std::string digits;
  long long frac = 0, exp = 0;
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') ++i;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) digits += text[i];
  if (i < text.size() && text[i] == '.')
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i, ++frac)
      digits += text[i];
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool neg = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i)
      exp = std::min(exp * 10 + (text[i] - '0'), 1'000'000LL);
    if (neg) exp = -exp;
  }
  long long shift = exp - frac + 2;  // value × 100 = digits × 10^shift
  if (shift >= 0) return true;
  std::size_t need = static_cast<std::size_t>(std::min<long long>(-shift, 1'000'000));
  std::size_t zeros = 0;
  for (auto it = digits.rbegin(); it != digits.rend() && *it == '0'; ++it) ++zeros;
  bool all_zero = zeros == digits.size();
  return all_zero || zeros >= need;
}

// Builds a boost::json::value like boost::json::parse does, except that a number that is not a
// whole number of hundredths becomes NaN. Money is the only fractional quantity of the API, and
// every reader rejects NaN, so a price like 50.000000000001 is refused instead of rounded.
class Handler {
 public:
  static constexpr std::size_t max_object_size = 10000;
  static constexpr std::size_t max_array_size = 10000;
  static constexpr std::size_t max_key_size = 4096;
  static constexpr std::size_t max_string_size = 1 << 20;

  boost::json::value_stack st;
  std::string number;
  // The keys of each open object, to refuse a key given twice: Boost.JSON would keep one of the
  // two silently, and a body that means two things must not mean either (issue 8).
  std::vector<std::unordered_set<std::string>> keys;
  std::string key, duplicate;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) { st.push_array(n); return true; }
  bool on_object_begin(boost::system::error_code&) { keys.emplace_back(); return true; }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    keys.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) { st.push_chars(s); return true; }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code&) { st.push_string(s); return true; }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    key.append(s.data(), s.size());
    if (!keys.back().insert(key).second) {
      duplicate = key.size() > 64 ? key.substr(0, 64) + "..." : key;
      ec = boost::json::error::syntax;
      return false;
    }
    key.clear();
    st.push_key(s);
    return true;
  }
  bool on_number_part(boost::json::string_view s, boost::system::error_code&) { number.append(s.data(), s.size()); return true; }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code&) { number.clear(); st.push_int64(i); return true; }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code&) { number.clear(); st.push_uint64(u); return true; }
  bool on_double(double d, boost::json::string_view s, boost::system::error_code&) {
    number.append(s.data(), s.size());
    st.push_double(whole_hundredths(number) ? d : std::numeric_limits<double>::quiet_NaN());
    number.clear();
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) { st.push_bool(b); return true; }
  bool on_null(boost::system::error_code&) { st.push_null(); return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

Response json(int status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

Response json_text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
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
  boost::json::basic_parser<Handler> parser(opts);
  parser.handler().st.reset();
  boost::system::error_code ec;
  std::size_t n = parser.write_some(false, req.body.data(), req.body.size(), ec);
  if (!ec && n != req.body.size()) ec = boost::json::error::extra_data;
  if (const std::string& dup = parser.handler().duplicate; !dup.empty())
    return fail(Errc::kInvalid, "duplicate key \"" + dup + "\" in the JSON body");
  if (ec) return fail(Errc::kInvalid, "malformed JSON body: " + ec.message());
  return parser.handler().st.release();
}

Result<std::optional<std::string>> parse_before(const Request& req) {
  auto raw = req.query_param("before");
  if (!raw || raw->empty()) return std::optional<std::string>();
  std::string id(*raw);
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!is_uuid(id)) return fail(Errc::kInvalid, "before must be the id of the last item of the previous page");
  return std::optional<std::string>(std::move(id));
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
