#pragma once
// A throwaway PostgreSQL server for tests: initdb into a temp directory, pg_ctl start on a free
// loopback port, stopped and deleted by the destructor. Runs the server as the `postgres` user
// when the test runs as root (PostgreSQL refuses to run as root).
#include <string>

namespace oms::storage::testing {

class PostgresServer {
 public:
  PostgresServer();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  // A libpq connection string for `database` (see create_database).
  std::string url(const std::string& database) const;
  void create_database(const std::string& name);

 private:
  std::string run(const std::string& cmd);
  std::string dir_, bin_, error_;
  int port_ = 0;
  bool ok_ = false;
};

}  // namespace oms::storage::testing
