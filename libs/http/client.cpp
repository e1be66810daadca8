#include "libs/http/client.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <stdexcept>

#include "libs/core/log.h"
#include "libs/http/json.h"

namespace oms::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

std::pair<std::string, std::uint16_t> parse_base_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("upstream URL must start with http://: " + url);
  std::string rest = url.substr(scheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || rest.find('/') != std::string::npos)
    throw std::invalid_argument("upstream URL must be http://host:port: " + url);
  int port = 0;
  try {
    port = std::stoi(rest.substr(colon + 1));
  } catch (...) {
    port = 0;
  }
  if (port <= 0 || port > 65535) throw std::invalid_argument("bad port in upstream URL: " + url);
  return {rest.substr(0, colon), static_cast<std::uint16_t>(port)};
}

namespace {

// One keep-alive connection. Its own io_context runs on the calling thread for each operation,
// so that every step has a deadline (tcp_stream's timeouts work on asynchronous operations).
struct Conn {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  Clock::time_point last_used = Clock::now();

  template <class Start>
  boost::system::error_code run(std::chrono::milliseconds timeout, Start start) {
    boost::system::error_code result = asio::error::would_block;
    stream.expires_after(timeout);
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
};

bool hop_by_hop(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "transfer-encoding" || name == "te" ||
         name == "trailer" || name == "upgrade" || name == "host" || name == "content-length" ||
         name == "proxy-connection" || name == "proxy-authorization";
}

enum class Stage { kOk, kNotSent, kMaybeSent };

}  // namespace

struct Upstream::Impl {
  struct Replica {
    std::string host;
    std::uint16_t port;
    std::string host_header;
    std::mutex mu;
    std::vector<std::unique_ptr<Conn>> idle;
    std::atomic<std::int64_t> down_until{0};  // steady ms
  };
  std::string service;
  UpstreamOptions options;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::atomic<std::uint64_t> next{0};

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  }

  std::unique_ptr<Conn> take_idle(Replica& r) {
    std::lock_guard lock(r.mu);
    while (!r.idle.empty()) {
      auto c = std::move(r.idle.back());
      r.idle.pop_back();
      // The services close connections idle for 60 s; never reuse one close to that, nor one
      // the service has closed already (a restarted replica): a read that would not block
      // tells, as end of file or an error.
      if (Clock::now() - c->last_used >= std::chrono::seconds(30)) continue;
      char byte;
      ssize_t n = ::recv(c->stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) continue;
      return c;
    }
    return nullptr;
  }

  void give_back(Replica& r, std::unique_ptr<Conn> c) {
    c->last_used = Clock::now();
    std::lock_guard lock(r.mu);
    if (static_cast<int>(r.idle.size()) < options.max_idle_per_replica) r.idle.push_back(std::move(c));
  }

  std::unique_ptr<Conn> open(Replica& r) {
    auto c = std::make_unique<Conn>();
    tcp::resolver resolver(c->ioc);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(r.host, std::to_string(r.port), ec);
    if (ec) return nullptr;
    ec = c->run(std::chrono::milliseconds(options.connect_timeout_ms),
                [&](auto handler) { c->stream.async_connect(endpoints, handler); });
    if (ec) return nullptr;
    c->stream.socket().set_option(tcp::no_delay(true), ec);
    return c;
  }

  // One exchange on one connection. `wrote` tells whether the whole request went out.
  boost::system::error_code exchange(Conn& c, const bhttp::request<bhttp::string_body>& out,
                                     bhttp::response<bhttp::string_body>& in, bool& wrote, bool& got_bytes) {
    auto timeout = std::chrono::milliseconds(options.request_timeout_ms);
    wrote = false;
    got_bytes = false;
    auto ec = c.run(timeout, [&](auto handler) { bhttp::async_write(c.stream, out, handler); });
    if (ec) return ec;
    wrote = true;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    ec = c.run(timeout, [&](auto handler) { bhttp::async_read(c.stream, c.buffer, parser, handler); });
    got_bytes = parser.got_some();
    if (!ec) in = parser.release();
    return ec;
  }

  Stage try_replica(Replica& r, const bhttp::request<bhttp::string_body>& out, bool repeatable, Response& res) {
    bhttp::response<bhttp::string_body> in;
    for (int round = 0; round < 2; ++round) {
      auto conn = round == 0 ? take_idle(r) : nullptr;
      bool reused = conn != nullptr;
      if (!conn) conn = open(r);
      if (!conn) return Stage::kNotSent;
      bool wrote = false, got_bytes = false;
      auto ec = exchange(*conn, out, in, wrote, got_bytes);
      if (ec) {
        // A kept-alive connection the service closed meanwhile fails at once: try a fresh one
        // if nothing can have been processed (the write failed) or repeating is harmless.
        if (reused && !got_bytes && (!wrote || repeatable)) continue;
        return wrote ? Stage::kMaybeSent : Stage::kNotSent;
      }
      res.status = static_cast<int>(in.result_int());
      res.content_type.clear();
      res.headers.clear();
      for (const auto& f : in) {
        std::string name(f.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (name == "content-type") res.content_type = std::string(f.value());
        else if (!hop_by_hop(name) && name != "server" && name != "date") res.set_header(name, std::string(f.value()));
      }
      res.body = std::move(in.body());
      if (in.keep_alive()) give_back(r, std::move(conn));
      return Stage::kOk;
    }
    return Stage::kNotSent;
  }
};

Upstream::Upstream(std::string service, const std::vector<std::string>& base_urls, UpstreamOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->options = options;
  if (base_urls.empty()) throw std::invalid_argument("no upstream URL for the " + impl_->service + " service");
  for (const auto& url : base_urls) {
    auto [host, port] = parse_base_url(url);
    auto r = std::make_unique<Impl::Replica>();
    r->host = host;
    r->port = port;
    r->host_header = host + ":" + std::to_string(port);
    impl_->replicas.push_back(std::move(r));
  }
}

Upstream::~Upstream() = default;

std::vector<Response> Upstream::get_all(const std::string& target) {
  std::vector<Response> out;
  for (auto& r : impl_->replicas) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, r->host_header);
    req.keep_alive(true);
    Response res;
    if (impl_->try_replica(*r, req, /*repeatable=*/true, res) == Stage::kOk) out.push_back(std::move(res));
  }
  return out;
}

namespace {

bhttp::request<bhttp::string_body> outgoing(const Request& req) {
  bhttp::request<bhttp::string_body> out;
  out.method_string(req.method);
  out.target(req.target.empty() ? req.path : req.target);
  out.version(11);
  for (const auto& [k, v] : req.headers)
    if (!hop_by_hop(k)) out.set(k, v);
  out.set("x-forwarded-for", req.peer);
  out.keep_alive(true);
  out.body() = req.body;
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT") out.prepare_payload();
  return out;
}

}  // namespace

std::vector<Response> Upstream::forward_all(const Request& req) {
  auto out = outgoing(req);
  std::vector<Response> answers;
  for (auto& r : impl_->replicas) {
    out.set(bhttp::field::host, r->host_header);
    Response res;
    if (impl_->try_replica(*r, out, /*repeatable=*/false, res) != Stage::kOk)
      res = problem(503, "replica " + r->host_header + " of the " + impl_->service + " service did not answer", req.path);
    answers.push_back(std::move(res));
  }
  return answers;
}

Response Upstream::forward(const Request& req, bool repeatable) {
  auto& i = *impl_;
  auto out = outgoing(req);

  // Replicas in round-robin order, those taken out last (tried only if no other answered).
  const std::size_t n = i.replicas.size();
  const std::size_t first = static_cast<std::size_t>(i.next.fetch_add(1) % n);
  auto now = Impl::now_ms();
  std::vector<Impl::Replica*> order;
  order.reserve(n);
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t k = 0; k < n; ++k) {
      auto* r = i.replicas[(first + k) % n].get();
      bool up = r->down_until.load() <= now;
      if ((pass == 0) == up) order.push_back(r);
    }

  for (auto* r : order) {
    out.set(bhttp::field::host, r->host_header);
    Response res;
    Stage stage = i.try_replica(*r, out, repeatable, res);
    if (stage == Stage::kOk) {
      r->down_until = 0;
      return res;
    }
    r->down_until = Impl::now_ms() + i.options.down_ms;
    log::warn({"gateway", req.request_id}, "replica " + r->host_header + " of the " + i.service + " service failed");
    if (stage == Stage::kMaybeSent && !repeatable)
      return problem(503, "the " + i.service + " service did not answer; the request may or may not have taken effect",
                     req.path);
  }
  return problem(503, "no replica of the " + i.service + " service is reachable", req.path);
}

}  // namespace oms::http
