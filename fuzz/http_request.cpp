// The HTTP request path: bytes off the wire through Beast's parser, the server's checks, the
// gateway (authentication, rate limits, routing) and the router to the real handlers of all six
// services on SQLite. $CUSTOMER, $STAFF, $ADMIN and $ORDER in the input become valid tokens and
// an existing order (fuzz/system.h), so the seeds reach past authentication.
#include <cstdint>

#include "fuzz/system.h"
#include "libs/http/wire.h"

namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string wire = oms::fuzz::expand({reinterpret_cast<const char*>(data), size});
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(1 << 20);
  parser.header_limit(oms::http::kHeaderLimit);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(wire), ec);
  if (ec || !parser.is_done()) return 0;  // the server answers these 400/413/414/431 itself
  auto req = oms::http::to_request(parser.get(), "127.0.0.1");
  oms::fuzz::handle(req);
  return 0;
}
