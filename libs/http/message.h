#pragma once
// The HTTP request and response as the rest of the code sees them: plain structs, no Beast.
// Only libs/http/server.cpp and client.cpp include Beast (it is slow to compile).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "libs/core/role.h"

namespace oms::http {

using Headers = std::vector<std::pair<std::string, std::string>>;  // names lower-case

struct Request {
  std::string method;                                   // "GET", "POST", ... (a HEAD arrives as GET)
  bool head = false;                                    // it was a HEAD: answered like GET, no body
  std::string target;                                   // as received: path and query, encoded
  std::string path;                                     // percent-decoded, no query
  std::map<std::string, std::string> query;             // percent-decoded
  Headers headers;
  std::string body;
  std::unordered_map<std::string, std::string> params;  // route parameters
  std::string request_id;
  std::string user_id;  // authenticated subject, from the verified token (never from a header)
  Role role = Role::kNone;  // the caller's role now: the token's, bounded by the operator's lists
  std::string peer;     // client address

  std::optional<std::string_view> header(std::string_view lower_name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
  void set_header(std::string name, std::string value);
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;

  void set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view lower_name) const;
};

std::string percent_decode(std::string_view s, bool plus_as_space);
// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool valid_utf8(std::string_view s);
std::map<std::string, std::string> parse_query(std::string_view q);

}  // namespace oms::http
