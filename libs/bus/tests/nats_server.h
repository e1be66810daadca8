#pragma once
// A throwaway nats-server with JetStream for tests: file storage in a temp directory, a free
// loopback port; stopped (SIGTERM) and deleted by the destructor.
#include <sys/types.h>

#include <string>

namespace oms::bus::testing {

class NatsServer {
 public:
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_, error_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ok_ = false;
};

}  // namespace oms::bus::testing
