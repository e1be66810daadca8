#pragma once
// The HTTP/1.1 server (Boost.Beast, C++20 coroutines). I/O runs on `io_threads`; every request
// handler runs on a separate pool of `worker_threads`, because handlers block on the database.
// Thread ownership: the acceptor and sessions live on the I/O threads; the handler function must
// be safe to call from several worker threads at once.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "libs/http/message.h"

namespace oms::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int io_threads = 1;
  int worker_threads = 8;
  std::size_t body_limit = 1 << 20;  // 1 MiB → 413 beyond
};

class Server {
 public:
  using Handle = std::function<Response(Request&)>;
  Server(ServerOptions options, Handle handle);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts serving; returns the bound port (useful with port 0). Throws on failure.
  std::uint16_t start();
  // Stops accepting, lets in-flight requests finish (up to a few seconds), joins the threads.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oms::http
