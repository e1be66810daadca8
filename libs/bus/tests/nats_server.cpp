#include "libs/bus/tests/nats_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "libs/core/ids.h"
#include "tests/support/ports.h"

namespace oms::bus::testing {
namespace {

bool accepting(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

NatsServer::NatsServer() {
  dir_ = (std::filesystem::temp_directory_path() / ("oms-nats-" + new_uuid())).string();
  std::filesystem::create_directories(dir_);
  port_ = oms::testing::free_loopback_port();
  std::string port = std::to_string(port_), store = dir_ + "/js", log = dir_ + "/nats.log";
  pid_ = ::fork();
  if (pid_ == 0) {
    ::execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p", port.c_str(), "-sd", store.c_str(),
             "-l", log.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  if (pid_ < 0) {
    error_ = "fork failed";
    return;
  }
  for (int i = 0; i < 200 && !ok_; ++i) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      error_ = "nats-server exited (is the package nats-server installed?)";
      pid_ = -1;
      return;
    }
    ok_ = accepting(port_);
    if (!ok_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (!ok_) error_ = "nats-server did not accept connections on " + port;
}

NatsServer::~NatsServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace oms::bus::testing
