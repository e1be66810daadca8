// JSON body (and query) validation of every endpoint that takes one, through the real handlers:
// the first byte picks the endpoint, the rest is its body (or its query string). Placeholders as
// in http_request ($ORDER, tokens: fuzz/system.h).
#include <cstdint>
#include <iterator>
#include <string>

#include "fuzz/system.h"
#include "libs/http/wire.h"

namespace bhttp = boost::beast::http;

namespace {

struct Endpoint {
  bhttp::verb method;
  const char* target;  // ends with '?': the input is the query string, else it is the body
  const char* token;   // placeholder
};

constexpr Endpoint kEndpoints[] = {
    {bhttp::verb::post, "/api/orders", "$CUSTOMER"},
    {bhttp::verb::post, "/api/inventory", "$STAFF"},
    {bhttp::verb::post, "/api/auth/login", ""},
    {bhttp::verb::put, "/api/orders/$ORDER/cancel", "$CUSTOMER"},
    {bhttp::verb::post, "/api/fulfillment/order/$ORDER/dispatch", "$STAFF"},
    {bhttp::verb::post, "/api/admin/saga/sagas/$ORDER/resolve", "$ADMIN"},
    {bhttp::verb::put, "/api/admin/payment/faults", "$ADMIN"},
    {bhttp::verb::get, "/api/orders?", "$CUSTOMER"},
    {bhttp::verb::get, "/api/sagas?", "$STAFF"},
    {bhttp::verb::get, "/api/notifications?", "$STAFF"},
    {bhttp::verb::get, "/api/fulfillment?", "$STAFF"},
    {bhttp::verb::get, "/api/inventory?", "$CUSTOMER"},
    {bhttp::verb::post, "/api/inventory/prod-101/add?", "$STAFF"},
    {bhttp::verb::get, "/api/admin/order/audit-log?", "$ADMIN"},
    {bhttp::verb::get, "/api/admin/inventory/reservations?", "$ADMIN"},
};

unsigned long next_key = 0;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Endpoint& e = kEndpoints[data[0] % std::size(kEndpoints)];
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string target = oms::fuzz::expand(e.target);
  bool query = target.back() == '?';
  bhttp::request<bhttp::string_body> msg{e.method, query ? target + input : target, 11};
  if (*e.token) msg.set(bhttp::field::authorization, "Bearer " + oms::fuzz::expand(e.token));
  if (!query) {
    msg.set(bhttp::field::content_type, "application/json");
    msg.body() = input;
  }
  msg.set("Idempotency-Key", "fuzz-" + std::to_string(next_key++));  // each a new order
  msg.prepare_payload();
  auto req = oms::http::to_request(msg, "127.0.0.1");
  oms::fuzz::handle(req);
  return 0;
}
