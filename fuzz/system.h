#pragma once
// The embedded system the HTTP fuzz targets drive, opened once per process in a fresh temp
// directory (SQLite, durability normal, demo catalog, fault injection on) with a known key, and
// the oracle every answer must pass: never a 500, every error a problem+json. Its bus and
// background work are not started: what a request covers depends on the request alone (as
// libFuzzer wants), and no thread outlives an input (so exit tears nothing down under one).
#include <string>
#include <string_view>

#include "libs/http/message.h"

namespace oms::fuzz {

// `input` with $CUSTOMER, $STAFF and $ADMIN replaced by a valid token of that role (so seeds
// stay valid whatever the time) and $ORDER by the id of an order of the customer's.
std::string expand(std::string_view input);

// The request through the server's shared checks and the gateway; aborts on an answer that
// breaks the contract (a 500, or an error that is not application/problem+json).
http::Response handle(http::Request& req);

}  // namespace oms::fuzz
