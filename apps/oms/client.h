#pragma once
// `oms` as an HTTP client of a running deployment: the frame its client subcommands share
// (`oms login`, `oms audit`; the operator-tools issue adds the rest). Every client subcommand
// takes `--url` / OMS_URL (the gateway, default http://127.0.0.1:8080) and, where it needs one,
// `--token` / OMS_TOKEN (a bearer token; `oms login` prints one). Plain HTTP only: put TLS in
// front of the gateway and run the client on its side of it.
#include <memory>
#include <string>

#include "libs/http/message.h"

namespace CLI {
class App;
}

namespace oms::app {

struct ClientOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
};

// One gateway, one keep-alive connection; requests block. Errors of the connection come back as
// the 503 problem the HTTP client makes of them.
class Client {
 public:
  explicit Client(const ClientOptions& options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  http::Response get(const std::string& target);
  http::Response post(const std::string& target, const std::string& json_body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Adds --url (and --token when `token`) to a client subcommand.
void add_client_options(CLI::App* cmd, ClientOptions& options, bool token);

// `oms login --user ID`: prints a token for that user on stdout (`export OMS_TOKEN=$(oms login
// --user admin)`). Staff and admin need the operator password: OMS_ADMIN_PASSWORD, else
// --password-file, else one line read from stdin. Returns the exit code.
int run_login(const ClientOptions& options, const std::string& user, const std::string& password_file);

// "status: detail" of a failed answer, for messages: the problem's detail when it has one.
std::string describe_failure(const http::Response& res);

}  // namespace oms::app
