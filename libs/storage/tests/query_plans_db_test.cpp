// The query plans of every service's read paths, on both backends: a missing index fails here,
// not in production at a million orders (issue 7, "cost grows slowly with data").
//
// The test runs the stores' real functions (lists with every filter and `before=`, loads, lookups)
// on a fresh schema with a statement cache of its own, then asks the database to plan every
// statement text the cache collected: SQLite's EXPLAIN QUERY PLAN may not scan a table without an
// index nor sort a whole result (a sort of ties only is fine), PostgreSQL's generic plan (with
// sequential scans disabled, so that only a missing index leaves one) may not scan a table.
#include <gtest/gtest.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <filesystem>
#include <functional>
#include <regex>
#include <set>

#include "libs/core/ids.h"
#include "libs/storage/database.h"
#include "libs/storage/statement.h"
#include "libs/storage/tests/postgres_server.h"
#include "services/fulfillment/adapters/store.h"
#include "services/inventory/adapters/store.h"
#include "services/notification/adapters/store.h"
#include "services/order/adapters/store.h"
#include "services/payment/adapters/store.h"
#include "services/saga/adapters/store.h"

namespace oms::storage {
namespace {

namespace fs = std::filesystem;

struct Service {
  std::string name;
  const std::vector<std::string>& migrations;
  std::function<void(soci::session&)> read_paths;
};

std::vector<Service> services() {
  const std::string a = new_uuid(), b = new_uuid(), before = new_uuid();
  const std::vector<std::string> ids = {a, b};
  return {
      {"order", order::adapters::migrations(),
       [=](soci::session& s) {
         order::adapters::load(s, a);
         order::adapters::load_many(s, ids);
         for (int w = 0; w < 16; ++w) {
           order::adapters::ListQuery q;
           if (w & 1) q.status = "PENDING";
           if (w & 2) q.email_lower = "alice@example.com";
           if (w & 4) q.before = before;
           if (w & 8) q.user_id = "alice";
           order::adapters::list(s, q);
         }
         order::adapters::find_key(s, "alice", "key-1");
         order::adapters::purge_keys(s, 1);
       }},
      {"saga", saga::adapters::migrations(),
       [=](soci::session& s) {
         saga::adapters::load(s, a);
         saga::adapters::load_many(s, ids);
         saga::adapters::history(s, a);
         saga::adapters::overdue(s, 1, 100);
         saga::adapters::count_in_state(s, "NEEDS_ATTENTION");
         for (auto state : {std::optional<std::string>(), std::optional<std::string>("STARTED")})
           for (auto owner : {std::optional<std::string>(), std::optional<std::string>("alice")})
             for (auto b4 : {std::optional<std::string>(), std::optional<std::string>(before)})
               saga::adapters::list(s, state, owner, b4, 100);
       }},
      {"inventory", inventory::adapters::migrations(),
       [=](soci::session& s) {
         inventory::adapters::load(s, "prod-1");
         inventory::adapters::load_products(s, {"prod-1", "prod-2"});
         inventory::adapters::find_reservations(s, ids);
         inventory::adapters::list(s, "", 100);
         inventory::adapters::list(s, "prod-1", 100);
       }},
      {"payment", payment::adapters::migrations(),
       [=](soci::session& s) {
         payment::adapters::load(s, a);
         payment::adapters::load_many(s, ids);
       }},
      {"fulfillment", fulfillment::adapters::migrations(),
       [=](soci::session& s) {
         fulfillment::adapters::load(s, a);
         fulfillment::adapters::load_many(s, ids);
         for (std::string status : {"", "ALL", "DISPATCHED"})
           for (auto owner : {std::optional<std::string>(), std::optional<std::string>("alice")})
             for (auto b4 : {std::optional<std::string>(), std::optional<std::string>(before)})
               fulfillment::adapters::list(s, status, owner, b4, 100);
       }},
      {"notification", notification::adapters::migrations(),
       [=](soci::session& s) {
         notification::adapters::recipients(s, ids);
         for (int w = 0; w < 16; ++w)
           notification::adapters::list(s, w & 1 ? a : "", w & 2 ? "alice@example.com" : "",
                                        w & 4 ? std::optional<std::string>("alice") : std::nullopt,
                                        w & 8 ? std::optional<std::string>(before) : std::nullopt, 100);
       }},
  };
}

int params_of(const std::string& sql) {
  int n = 0;
  static const std::regex param(R"(\$(\d+))");
  for (std::sregex_iterator it(sql.begin(), sql.end(), param), end; it != end; ++it)
    n = std::max(n, std::stoi((*it)[1]));
  return n;
}

// The plan's lines, and which of them are a problem (empty when the plan is fine). Sorting is
// fine after a search by one order's id: an order has a handful of rows in any table.
std::vector<std::string> sqlite_problems(soci::session& s, const std::string& sql, std::string& plan) {
  std::set<std::string> tables;
  {
    soci::rowset<std::string> rs = (s.prepare << "SELECT name FROM sqlite_master WHERE type = 'table'");
    for (const auto& t : rs) tables.insert(t);
  }
  // Parameters are left unbound (NULL): the plan does not depend on their values.
  std::vector<std::string> out;
  soci::rowset<soci::row> rows = (s.prepare << "EXPLAIN QUERY PLAN " + sql);
  static const std::regex scan(R"(^SCAN (\w+)( |$))");
  bool one_order = false;
  for (const auto& r : rows) {
    std::string detail = r.get<std::string>(3);
    plan += detail + "\n";
    if (plan == detail + "\n") one_order = detail.starts_with("SEARCH ") && detail.find("(order_id=?") != std::string::npos;
    std::smatch m;
    bool full_scan = std::regex_search(detail, m, scan) && tables.count(m[1]) &&
                     detail.find("USING INDEX") == std::string::npos &&
                     detail.find("USING COVERING INDEX") == std::string::npos &&
                     detail.find("USING INTEGER PRIMARY KEY") == std::string::npos;
    if (full_scan || (detail == "USE TEMP B-TREE FOR ORDER BY" && !one_order)) out.push_back(detail);
  }
  return out;
}

std::vector<std::string> postgres_problems(soci::session& s, const std::string& sql, std::string& plan) {
  s << "DEALLOCATE ALL";
  s << "PREPARE plan_probe AS " + sql;
  std::string args;
  for (int i = 0, n = params_of(sql); i < n; ++i) args += (i ? ", NULL" : "NULL");
  std::vector<std::string> out;
  soci::rowset<std::string> rows = (s.prepare << "EXPLAIN EXECUTE plan_probe" + (args.empty() ? "" : "(" + args + ")"));
  for (const auto& line : rows) {
    plan += line + "\n";
    if (line.find("Seq Scan on") != std::string::npos) out.push_back(line);
  }
  s << "DEALLOCATE plan_probe";
  return out;
}

void check_plans(const std::function<std::string(const std::string&)>& url_of, bool pg) {
  int checked = 0;
  for (const auto& svc : services()) {
    SCOPED_TRACE(svc.name);
    std::string url = url_of(svc.name);
    {
      DbOptions o;
      o.url = url;
      Database db(o);
      db.migrate(svc.name, svc.migrations);
    }
    soci::session s;
    if (pg) {
      s.open(soci::postgresql, url);
      s << "SET client_min_messages TO WARNING";
    } else {
      s.open(soci::sqlite3, "db=" + url.substr(7));
    }
    StmtCache cache;
    {
      CacheScope scope(s, &cache);
      svc.read_paths(s);
    }
    auto texts = cache.texts();
    EXPECT_GE(texts.size(), 2u);
    if (pg) {
      s << "SET enable_seqscan = off";
      s << "SET plan_cache_mode = force_generic_plan";
    }
    for (const auto& sql : texts) {
      std::string plan;
      auto problems = pg ? postgres_problems(s, sql, plan) : sqlite_problems(s, sql, plan);
      EXPECT_TRUE(problems.empty()) << sql << "\nplan:\n" << plan;
      ++checked;
    }
  }
  EXPECT_GE(checked, 30);
}

TEST(QueryPlans, EveryReadPathIsIndexBackedOnSqlite) {
  fs::path dir = fs::temp_directory_path() / ("oms-plans-" + new_uuid());
  fs::create_directories(dir);
  check_plans([&](const std::string& name) { return "sqlite:" + (dir / (name + ".db")).string(); }, false);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST(QueryPlans, EveryReadPathIsIndexBackedOnPostgres) {
  testing::PostgresServer pg;
  ASSERT_TRUE(pg.ok()) << pg.error();
  check_plans(
      [&](const std::string& name) {
        pg.create_database("plans_" + name);
        return pg.url("plans_" + name);
      },
      true);
}

}  // namespace
}  // namespace oms::storage
