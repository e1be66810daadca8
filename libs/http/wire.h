#pragma once
// What the server does with one parsed request, without the socket: Beast's message → Request,
// and the handler run behind the checks every route shares. server.cpp is its user; the fuzz
// targets (fuzz/) drive the same path with bytes. Includes Beast: keep it out of other headers.
#include <boost/beast/http.hpp>
#include <string>

#include "libs/http/message.h"
#include "libs/http/server.h"

namespace oms::http {

constexpr std::size_t kHeaderLimit = 16 * 1024;  // request line and header fields

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// The request as handlers see it: path percent-decoded, query parsed, header names lower-case,
// a HEAD turned into a GET with `head` set.
Request to_request(const BeastRequest& in, const std::string& peer);

// The handler behind the shared checks: a path or query that is not UTF-8 is 400; InvalidInput
// is 400, Unavailable 503, any other exception 500 (logged). Never throws.
Response run_handler(const Server::Handle& handle, Request& req);

}  // namespace oms::http
