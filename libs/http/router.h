#pragma once
// Maps (method, path pattern) to a handler. Patterns are literal segments and `{name}`
// parameters: "/api/orders/{orderId}/cancel". A path that matches with another method gives 405
// with Allow; no match gives 404. Every route names the least role that may call it (API.md,
// "Roles"): a caller below it gets 403, so the table of who may do what is where the routes are
// registered; what a customer may see of a route open to customers (only its own orders) is the
// handler's business. Handlers run on the blocking worker pool, never on the I/O threads, so they
// may use the database.
#include <functional>
#include <string>
#include <vector>

#include "libs/http/message.h"

namespace oms::http {

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  void add(std::string method, std::string pattern, Role least, Handler handler);
  // Adds every route of `other` (used by the embedded gateway to host all services).
  void merge(const Router& other);
  Response dispatch(Request& req) const;
  // True when some route's pattern matches the path (whatever the method).
  bool knows(std::string_view path) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Role least;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace oms::http
