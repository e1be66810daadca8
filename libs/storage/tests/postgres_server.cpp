#include "libs/storage/tests/postgres_server.h"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <stdexcept>

#include "libs/core/ids.h"
#include "tests/support/ports.h"

namespace oms::storage::testing {
namespace {

std::string find_bin() {
  for (const char* v : {"17", "16", "15", "14", "13"}) {
    std::string b = std::string("/usr/lib/postgresql/") + v + "/bin";
    if (std::filesystem::exists(b + "/initdb")) return b;
  }
  return {};
}

}  // namespace

std::string PostgresServer::run(const std::string& cmd) {
  std::string full = (::geteuid() == 0 ? "runuser -u postgres -- " : "") + cmd + " 2>&1";
  std::string out;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  if (::pclose(p) != 0) throw std::runtime_error(cmd + " failed: " + out);
  return out;
}

PostgresServer::PostgresServer() {
  try {
    bin_ = find_bin();
    if (bin_.empty()) throw std::runtime_error("no PostgreSQL server binaries (package postgresql)");
    dir_ = (std::filesystem::temp_directory_path() / ("oms-pg-" + new_uuid())).string();
    std::filesystem::create_directories(dir_);
    if (::geteuid() == 0) {
      passwd* pw = ::getpwnam("postgres");
      if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        throw std::runtime_error("cannot hand " + dir_ + " to the postgres user");
    }
    port_ = oms::testing::free_loopback_port();
    run(bin_ + "/initdb -D " + dir_ + "/data -A trust -U postgres --no-sync -E UTF8");
    run(bin_ + "/pg_ctl -D " + dir_ + "/data -w -l " + dir_ + "/log -o \"-p " + std::to_string(port_) +
        " -k " + dir_ + " -c listen_addresses=127.0.0.1 -c fsync=off\" start");
    ok_ = true;
  } catch (const std::exception& e) {
    error_ = e.what();
  }
}

PostgresServer::~PostgresServer() {
  if (ok_) {
    try {
      run(bin_ + "/pg_ctl -D " + dir_ + "/data -w -m immediate stop");
    } catch (...) {
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::url(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + database +
         " options='-c client_min_messages=warning'";
}

void PostgresServer::create_database(const std::string& name) {
  soci::session s(soci::postgresql, url("postgres"));
  s << "CREATE DATABASE " + name;
}

}  // namespace oms::storage::testing
