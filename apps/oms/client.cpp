#include "apps/oms/client.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "libs/http/client.h"

namespace oms::app {

struct Client::Impl {
  ClientOptions options;
  http::Upstream upstream;
  explicit Impl(const ClientOptions& o) : options(o), upstream("gateway", {base(o.url)}, upstream_options()) {}

  static std::string base(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    http::parse_base_url(url);  // throws std::invalid_argument with the reason
    return url;
  }
  static http::UpstreamOptions upstream_options() {
    http::UpstreamOptions o;
    o.connect_timeout_ms = 3000;
    o.request_timeout_ms = 60000;  // an audit's pages are large
    o.down_ms = 0;                 // one gateway: always try it
    return o;
  }
  http::Response send(std::string method, const std::string& target, std::string body) {
    http::Request req;
    req.method = std::move(method);
    req.target = target;
    req.path = target.substr(0, target.find('?'));
    if (!options.token.empty()) req.set_header("authorization", "Bearer " + options.token);
    if (!body.empty()) req.set_header("content-type", "application/json");
    req.body = std::move(body);
    return upstream.forward(req, /*repeatable=*/req.method == "GET");
  }
};

Client::Client(const ClientOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Client::~Client() = default;
http::Response Client::get(const std::string& target) { return impl_->send("GET", target, {}); }
http::Response Client::post(const std::string& target, const std::string& json_body) {
  return impl_->send("POST", target, json_body);
}

void add_client_options(CLI::App* cmd, ClientOptions& options, bool token) {
  cmd->add_option("--url", options.url, "The gateway's base URL")->envname("OMS_URL")->capture_default_str();
  if (token) cmd->add_option("--token", options.token, "Bearer token (`oms login` prints one)")->envname("OMS_TOKEN");
}

std::string describe_failure(const http::Response& res) {
  std::string detail;
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body, ec);
  if (!ec && v.is_object())
    if (const auto* d = v.as_object().if_contains("detail"); d && d->is_string()) detail = d->as_string().c_str();
  if (detail.empty()) detail = res.body.substr(0, 200);
  return std::to_string(res.status) + ": " + detail;
}

int run_login(const ClientOptions& options, const std::string& user, const std::string& password_file) {
  std::string password;
  if (const char* env = std::getenv("OMS_ADMIN_PASSWORD"); env && *env) {
    password = env;
  } else if (!password_file.empty()) {
    std::ifstream in(password_file);
    if (!in || !std::getline(in, password)) {
      std::cerr << "oms login: cannot read " << password_file << "\n";
      return 2;
    }
  }
  auto attempt = [&](const std::string& pw) {
    boost::json::object body{{"userId", user}};
    if (!pw.empty()) body["password"] = pw;
    return Client(options).post("/api/auth/login", boost::json::serialize(body));
  };
  auto res = attempt(password);
  if (res.status == 401 && password.empty()) {  // staff or admin: ask for the operator password
    std::cerr << "operator password for " << user << ": " << std::flush;
    if (!std::getline(std::cin, password) || password.empty()) {
      std::cerr << "\noms login: no password given\n";
      return 2;
    }
    res = attempt(password);
  }
  if (res.status != 200) {
    std::cerr << "oms login: " << describe_failure(res) << "\n";
    return res.status == 401 || res.status == 429 ? 3 : 2;
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body, ec);
  const boost::json::value* token = !ec && v.is_object() ? v.as_object().if_contains("token") : nullptr;
  if (!token || !token->is_string()) {
    std::cerr << "oms login: the answer holds no token: " << res.body.substr(0, 200) << "\n";
    return 2;
  }
  std::cout << token->as_string().c_str() << "\n";
  return 0;
}

}  // namespace oms::app
