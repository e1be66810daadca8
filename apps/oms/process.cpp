#include "apps/oms/process.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "libs/core/ids.h"
#include "libs/core/log.h"

namespace oms::app {

namespace fs = std::filesystem;

http::ServerOptions server_options(const runtime::Settings& settings) {
  http::ServerOptions o;
  o.host = settings.host;
  o.port = static_cast<std::uint16_t>(settings.port);
  o.worker_threads = settings.worker_threads;
  return o;
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int wait_stop_signal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  return sig;
}

const char* signal_name(int sig) { return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal"; }

int poll_stop_signal(const sigset_t& signals, std::chrono::milliseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1'000'000};
  int sig = sigtimedwait(&signals, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

void secure_data_dir(const std::string& dir_name) {
  fs::path dir = dir_name;
  ::umask(0077);  // whatever this process creates from now on: files 0600, directories 0700
  fs::create_directories(dir);
  // A directory or files made by an earlier version (0755 / 0644) are closed too: they hold
  // customers' emails and the token secret.
  // Only group and other lose their bits; links are not followed; a file this user may not
  // change is reported, not fatal.
  const auto others = fs::perms::group_all | fs::perms::others_all;
  std::error_code ec;
  fs::permissions(dir, others, fs::perm_options::remove, ec);
  if (ec) log::warn({"oms"}, "cannot close the data directory " + dir.string() + ": " + ec.message());
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
    fs::permissions(e.path(), others, fs::perm_options::remove | fs::perm_options::nofollow, ec);
    if (ec) log::warn({"oms"}, "cannot close " + e.path().string() + ": " + ec.message());
  }
}

std::string load_or_create_secret(const std::string& dir_name, const std::string& name, bool* created) {
  fs::path dir = dir_name;
  fs::path file = dir / name;
  if (created) *created = false;
  if (fs::exists(file)) {
    std::ifstream in(file);
    std::string s;
    std::getline(in, s);
    if (s.size() >= 32) return s;
  }
  std::string secret = random_hex(32);
  fs::path tmp = dir / (name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << secret << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  ::chmod(tmp.c_str(), 0600);
  fs::rename(tmp, file);
  if (created) *created = true;
  return secret;
}

std::string operator_password(const runtime::Settings& settings) {
  if (!settings.admin_password.empty()) return settings.admin_password;
  bool created = false;
  std::string password = load_or_create_secret(settings.data_dir, "admin.password", &created);
  fs::path file = fs::absolute(fs::path(settings.data_dir) / "admin.password");
  if (created)  // once, where the person who started it looks (as Jupyter and Grafana do)
    std::cout << "oms: the operator password for staff and admin logins is " << password << " (kept in "
              << file.string() << ")" << std::endl;
  log::info({"oms"}, "staff and admin logins need the operator password kept in " + file.string());
  return password;
}

Identity make_identity(const runtime::Settings& settings, const std::string& secret) {
  Identity id;
  if (settings.auth == "external") {
    if (settings.jwks_file.empty()) throw std::invalid_argument("--auth external needs --jwks-file (OMS_JWKS_FILE)");
    id.external = auth::JwksVerifier::from_file(settings.jwks_file, settings.token_issuer, settings.token_audience);
    log::info({"oms"}, "tokens of " + settings.token_issuer + " for " + settings.token_audience + ", " +
                           std::to_string(id.external->keys()) + " key(s) from " + settings.jwks_file);
    id.access = std::make_unique<auth::Access>(*id.external, settings.staff_users, settings.admin_users,
                                               /*lists_bound_roles=*/false);
  } else {
    id.issuer = std::make_unique<auth::JwtCodec>(secret, settings.token_issuer.empty() ? "oms" : settings.token_issuer,
                                                 settings.token_ttl_s);
    id.access = std::make_unique<auth::Access>(*id.issuer, settings.staff_users, settings.admin_users);
  }
  return id;
}

void print_ready(const std::string& host, std::uint16_t port) {
  std::cout << "oms listening on http://" << host << ":" << port << std::endl;
}

}  // namespace oms::app
