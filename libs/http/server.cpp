#include "libs/http/server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "libs/core/after_response.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/wire.h"

namespace oms::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

Request to_request(const BeastRequest& in, const std::string& peer) {
  Request r;
  r.method = std::string(in.method_string());
  std::string_view target = in.target();
  auto q = target.find('?');
  r.target = std::string(target);
  r.path = percent_decode(target.substr(0, q), false);
  if (q != std::string_view::npos) r.query = parse_query(target.substr(q + 1));
  r.headers.reserve(16);
  for (const auto& f : in) r.set_header(std::string(f.name_string()), std::string(f.value()));
  r.body = in.body();
  r.peer = peer;
  if (r.method == "HEAD") {  // HEAD is GET without the body, on every GET route (and upstream)
    r.method = "GET";
    r.head = true;
  }
  return r;
}

Response run_handler(const Server::Handle& handle, Request& req) {
  try {
    // Every database stores text as UTF-8 (PostgreSQL rejects anything else): a URL that does
    // not decode to UTF-8 is the client's error, whatever route it is for.
    if (!valid_utf8(req.path)) return problem(400, "the URL path is not valid UTF-8", "");
    for (const auto& [k, v] : req.query)
      if (!valid_utf8(k) || !valid_utf8(v)) return problem(400, "the query string is not valid UTF-8", "");
    return handle(req);
  } catch (const InvalidInput& e) {
    return problem(400, e.what(), req.path);
  } catch (const Unavailable& e) {
    log::warn({"http", req.request_id}, std::string("unavailable: ") + e.what());
    return problem(503, e.what(), req.path);
  } catch (const std::exception& e) {
    log::error({"http", req.request_id}, std::string("unhandled: ") + e.what());
    return problem(500, "internal error", req.path);
  } catch (...) {  // escaping a pool thread would end the process
    log::error({"http", req.request_id}, "unhandled non-standard exception");
    return problem(500, "internal error", req.path);
  }
}

struct Server::Impl {
  ServerOptions options;
  Handle handle;
  asio::io_context io;
  asio::thread_pool workers;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> threads;
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;

  Impl(ServerOptions o, Handle h)
      : options(std::move(o)), handle(std::move(h)), workers(options.worker_threads) {}

  static bhttp::response<bhttp::string_body> to_beast(Response&& res, unsigned version, bool keep_alive,
                                                       bool head) {
    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(res.status), version};
    out.set(bhttp::field::server, "oms");
    out.set(bhttp::field::content_type, res.content_type);
    for (auto& [k, v] : res.headers) out.set(k, v);
    out.body() = std::move(res.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    if (head) {  // the GET's headers, Content-Length included, and no body (RFC 9110 9.3.2)
      auto length = out.body().size();
      out.body().clear();
      out.content_length(length);
    }
    return out;
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    std::string peer;
    {
      boost::system::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) peer = ep.address().to_string();
    }
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.body_limit);
      parser.header_limit(kHeaderLimit);
      stream.expires_after(std::chrono::seconds(60));
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser,
                                                asio::as_tuple(asio::use_awaitable));
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::connection_reset || ec == beast::error::timeout ||
          ec == asio::error::operation_aborted)
        break;
      if (ec) {
        // The request could not be read as HTTP: answer once, then close the connection.
        int status = 400;
        std::string detail = "malformed HTTP request: " + ec.message();
        if (ec == bhttp::error::body_limit) {
          status = 413;
          detail = "request body exceeds 1 MiB";
        } else if (ec == bhttp::error::header_limit) {
          // Parsed or not (Beast may wait for the whole header block), a request line that ended
          // within the limit makes it the other header fields; otherwise it is the URL.
          std::string_view unparsed(static_cast<const char*>(buffer.data().data()), buffer.size());
          bool long_url = parser.get().target().empty() &&
                          unparsed.substr(0, kHeaderLimit).find("\r\n") == std::string_view::npos;
          status = long_url ? 414 : 431;
          detail = long_url ? "the URL exceeds 16 KiB" : "the request's header fields exceed 16 KiB";
        }
        Response res = problem(status, detail, "");
        res.set_header("X-Request-Id", new_uuid());
        auto out = to_beast(std::move(res), 11, false, false);
        auto [wec, wn] = co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
        if (!wec && status == 413) co_await discard_rest(stream);
        break;
      }
      auto& msg = parser.get();
      bool keep_alive = msg.keep_alive() && !stopping.load();
      Request req = to_request(msg, peer);
      unsigned version = msg.version();
      in_flight.fetch_add(1);
      Response res;
      // Run the (blocking) handler on the worker pool, then resume here on the I/O thread.
      // What the handler deferred (core::AfterResponse) runs on the worker once the response
      // is handed over: at the end of the scope.
      co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
          [this, &req, &res](auto resume) {
            asio::post(workers, [this, &req, &res, resume = std::move(resume)]() mutable {
              core::AfterResponse after;
              res = run_handler(handle, req);
              auto io_ex = asio::get_associated_executor(resume);
              asio::post(io_ex, std::move(resume));  // req and res may be gone from here on
            });
          },
          asio::use_awaitable);
      in_flight.fetch_sub(1);
      auto out = to_beast(std::move(res), version, keep_alive, req.head);
      auto [wec, wn] = co_await bhttp::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
      if (wec || !keep_alive) break;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // After a 413 the client may still be sending the body it announced; closing with unread data
  // would reset the connection, and a client that writes its whole body before reading would see
  // the reset instead of the 413. Read and drop what comes, up to 16 MiB or 5 s, then close.
  static asio::awaitable<void> discard_rest(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(5));
    std::vector<char> sink(8 * 1024);
    for (std::size_t total = 0; total < (16u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      total += n;
    }
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      asio::co_spawn(io, session(std::move(socket)), asio::detached);
    }
  }
};

Server::Server(ServerOptions options, Handle handle)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handle))) {}

Server::~Server() { stop(); }

std::uint16_t Server::start() {
  auto& i = *impl_;
  tcp::endpoint ep(asio::ip::make_address(i.options.host), i.options.port);
  i.acceptor.open(ep.protocol());
  i.acceptor.set_option(asio::socket_base::reuse_address(true));
  i.acceptor.bind(ep);
  i.acceptor.listen(asio::socket_base::max_listen_connections);
  std::uint16_t port = i.acceptor.local_endpoint().port();
  i.guard.emplace(i.io.get_executor());
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  for (int t = 0; t < i.options.io_threads; ++t) i.threads.emplace_back([&i] { i.io.run(); });
  return port;
}

void Server::stop() {
  auto& i = *impl_;
  if (i.threads.empty()) return;
  i.stopping = true;
  asio::post(i.io, [&i] {
    boost::system::error_code ec;
    i.acceptor.close(ec);
  });
  // Let requests already inside a handler finish and be answered.
  for (int k = 0; k < 500 && i.in_flight.load() > 0; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  i.guard.reset();
  i.io.stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
  i.workers.join();
}

}  // namespace oms::http
