#include "libs/storage/statement.h"

#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <charconv>
#include <cstring>

#include "libs/core/ids.h"

namespace oms::storage {

using namespace sqlite_api;  // SOCI's header wraps sqlite3.h in this namespace

namespace {

[[noreturn]] void fail_pg(PGconn* conn, PGresult* res, const std::string& what) {
  std::string msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string st = state ? state : "08006";  // no result at all: the connection failed
  if (res) PQclear(res);
  throw soci::postgresql_soci_error(what + ": " + msg, st.c_str());
}

std::atomic<unsigned long> g_statement_names{0};

}  // namespace

Stmt::Stmt(soci::session& s, const std::string& sql) : pg_(is_postgres(s)) {
  if (pg_) {
    auto* conn = static_cast<soci::postgresql_session_backend*>(s.get_backend())->conn_;
    conn_ = conn;
    name_ = "oms_" + std::to_string(++g_statement_names);
    PGresult* res = PQprepare(conn, name_.c_str(), sql.c_str(), 0, nullptr);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) fail_pg(conn, res, "prepare " + sql.substr(0, 80));
    PQclear(res);
    res = PQdescribePrepared(conn, name_.c_str());
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) fail_pg(conn, res, "describe " + sql.substr(0, 80));
    params_.resize(static_cast<std::size_t>(PQnparams(res)));
    PQclear(res);
    return;
  }
  auto* db = static_cast<soci::sqlite3_session_backend*>(s.get_backend())->conn_;
  conn_ = db;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db);
    if (st) sqlite3_finalize(st);
    throw soci::sqlite3_soci_error("prepare " + sql.substr(0, 80) + ": " + msg, rc);
  }
  stmt_ = st;
  // $N are named parameters to SQLite, numbered by first appearance: map them by name.
  int n = sqlite3_bind_parameter_count(st);
  params_.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    int idx = sqlite3_bind_parameter_index(st, ("$" + std::to_string(i + 1)).c_str());
    if (idx == 0) throw std::logic_error("statement parameters must be $1..$N: " + sql);
    index_.push_back(idx);
  }
}

Stmt::~Stmt() {
  if (pg_) {
    if (result_) PQclear(static_cast<PGresult*>(result_));
    // The server drops the prepared statement with its session.
  } else if (stmt_) {
    sqlite3_finalize(static_cast<sqlite3_stmt*>(stmt_));
  }
}

Stmt::Param& Stmt::param(int i) {
  if (i < 0 || static_cast<std::size_t>(i) >= params_.size()) throw std::logic_error("no such statement parameter");
  return params_[static_cast<std::size_t>(i)];
}

Stmt& Stmt::text(int i, std::string_view v) {
  auto& p = param(i);
  p.text.assign(v);
  p.kind = Param::kText;
  return *this;
}

Stmt& Stmt::text(int i, const std::optional<std::string>& v) {
  if (!v) {
    param(i).kind = Param::kNull;
    return *this;
  }
  return text(i, std::string_view(*v));
}

Stmt& Stmt::integer(int i, long long v) {
  auto& p = param(i);
  p.num = v;
  p.kind = Param::kInt;
  return *this;
}

void Stmt::fail_sqlite(int rc) {
  std::string msg = sqlite3_errmsg(static_cast<sqlite3*>(conn_));
  sqlite3_reset(static_cast<sqlite3_stmt*>(stmt_));
  throw soci::sqlite3_soci_error("sqlite3_step: " + msg, rc);
}

DbStats& db_stats() {
  static DbStats stats;
  return stats;
}

long long Stmt::run() {
  finish();
  db_stats().statements.fetch_add(1, std::memory_order_relaxed);
  if (pg_) {
    std::vector<const char*> values(params_.size());
    std::vector<std::string> nums;
    nums.reserve(params_.size());
    for (std::size_t i = 0; i < params_.size(); ++i) {
      auto& p = params_[i];
      if (p.kind == Param::kText) values[i] = p.text.c_str();
      else if (p.kind == Param::kInt) values[i] = nums.emplace_back(std::to_string(p.num)).c_str();
      else values[i] = nullptr;
    }
    auto* conn = static_cast<PGconn*>(conn_);
    PGresult* res = PQexecPrepared(conn, name_.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                   nullptr, 0);
    auto status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) fail_pg(conn, res, "statement");
    result_ = res;
    rows_ = PQntuples(res);
    row_ = -1;
    const char* n = PQcmdTuples(res);
    return n && *n ? std::atoll(n) : 0;
  }
  auto* st = static_cast<sqlite3_stmt*>(stmt_);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    int rc = p.kind == Param::kText ? sqlite3_bind_text(st, index_[i], p.text.data(), static_cast<int>(p.text.size()), SQLITE_STATIC)
             : p.kind == Param::kInt ? sqlite3_bind_int64(st, index_[i], p.num)
                                     : sqlite3_bind_null(st, index_[i]);
    if (rc != SQLITE_OK) fail_sqlite(rc);
  }
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    has_row_ = first_ = true;
    return 0;
  }
  if (rc != SQLITE_DONE) fail_sqlite(rc);
  long long changed = sqlite3_changes64(static_cast<sqlite3*>(conn_));
  sqlite3_reset(st);
  return changed;
}

bool Stmt::next() {
  if (pg_) return result_ && ++row_ < rows_;
  if (first_) {
    first_ = false;
    return has_row_;
  }
  if (!has_row_) return false;
  int rc = sqlite3_step(static_cast<sqlite3_stmt*>(stmt_));
  if (rc == SQLITE_ROW) return true;
  has_row_ = false;
  if (rc != SQLITE_DONE) fail_sqlite(rc);
  sqlite3_reset(static_cast<sqlite3_stmt*>(stmt_));
  return false;
}

void Stmt::finish() {
  if (pg_) {
    if (result_) PQclear(static_cast<PGresult*>(result_));
    result_ = nullptr;
    rows_ = 0;
    row_ = -1;
    return;
  }
  // A SQLite statement not stepped to its end keeps its read snapshot open (a later read on the
  // connection would see old data): reset it.
  if (has_row_ || first_) sqlite3_reset(static_cast<sqlite3_stmt*>(stmt_));
  has_row_ = first_ = false;
}

bool Stmt::is_null(int c) const {
  if (pg_) return PQgetisnull(static_cast<const PGresult*>(result_), row_, c);
  return sqlite3_column_type(static_cast<sqlite3_stmt*>(stmt_), c) == SQLITE_NULL;
}

std::string Stmt::str(int c) const {
  if (pg_) {
    auto* res = static_cast<const PGresult*>(result_);
    return std::string(PQgetvalue(res, row_, c), static_cast<std::size_t>(PQgetlength(res, row_, c)));
  }
  auto* st = static_cast<sqlite3_stmt*>(stmt_);
  const auto* p = sqlite3_column_text(st, c);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, c)))
           : std::string();
}

std::optional<std::string> Stmt::opt_str(int c) const {
  if (is_null(c)) return std::nullopt;
  return str(c);
}

long long Stmt::num(int c) const {
  if (is_null(c)) return 0;
  if (!pg_) return sqlite3_column_int64(static_cast<sqlite3_stmt*>(stmt_), c);
  const char* s = PQgetvalue(static_cast<const PGresult*>(result_), row_, c);
  long long v = 0;
  std::from_chars(s, s + std::strlen(s), v);
  return v;
}

Stmt& StmtCache::get(soci::session& s, const std::string& sql) {
  auto it = map_.find(sql);
  if (it == map_.end()) it = map_.emplace(sql, std::make_unique<Stmt>(s, sql)).first;
  return *it->second;
}

namespace {
struct Scope {
  soci::session* s;
  StmtCache* cache;
};
thread_local std::vector<Scope> t_scopes;
}  // namespace

CacheScope::CacheScope(soci::session& s, StmtCache* cache) { t_scopes.push_back({&s, cache}); }
CacheScope::~CacheScope() { t_scopes.pop_back(); }

StmtRef::StmtRef(soci::session& s, const std::string& sql) {
  for (auto it = t_scopes.rbegin(); it != t_scopes.rend(); ++it) {
    if (it->s == &s && it->cache) {
      p_ = &it->cache->get(s, sql);
      return;
    }
  }
  owned_ = std::make_unique<Stmt>(s, sql);
  p_ = owned_.get();
}

StmtRef::~StmtRef() {
  if (p_ && !owned_) p_->finish();
}

bool is_postgres(soci::session& s) { return s.get_backend_name() == "postgresql"; }

const std::string& by_backend(soci::session& s, const std::string& sqlite, const std::string& postgres) {
  return is_postgres(s) ? postgres : sqlite;
}

JsonRows& JsonRows::row() {
  if (row_open_) out_ += ']';
  if (rows_ > 0) out_ += ',';
  out_ += '[';
  ++rows_;
  row_open_ = true;
  first_value_ = true;
  return *this;
}

JsonRows& JsonRows::add(std::string_view text) {
  if (!first_value_) out_ += ',';
  first_value_ = false;
  out_ += boost::json::serialize(boost::json::string_view(text.data(), text.size()));
  return *this;
}

JsonRows& JsonRows::add(const std::optional<std::string>& text) { return text ? add(*text) : add_null(); }

JsonRows& JsonRows::add(long long n) {
  if (!first_value_) out_ += ',';
  first_value_ = false;
  out_ += std::to_string(n);
  return *this;
}

JsonRows& JsonRows::add_null() {
  if (!first_value_) out_ += ',';
  first_value_ = false;
  out_ += "null";
  return *this;
}

std::string JsonRows::take() {
  if (row_open_) out_ += ']';
  out_ += ']';
  std::string s = std::move(out_);
  out_ = "[";
  rows_ = 0;
  row_open_ = false;
  first_value_ = true;
  return s;
}

std::string json_strings(const std::vector<std::string>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += boost::json::serialize(boost::json::string_view(values[i].data(), values[i].size()));
  }
  return out + "]";
}

std::string json_table(bool postgres, std::string_view param, std::string_view types, std::string_view alias) {
  std::string cols;
  for (std::size_t i = 0; i < types.size(); ++i) {
    std::string idx = std::to_string(i);
    std::string v = postgres ? "r->>" + idx : "value->>" + idx;
    if (types[i] == 'i') v = "CAST(" + v + " AS BIGINT)";
    cols += v + " AS c" + idx + ", ";
  }
  if (postgres)
    return "(SELECT " + cols + "n FROM json_array_elements(CAST(" + std::string(param) +
           " AS json)) WITH ORDINALITY AS j(r, n)) AS " + std::string(alias);
  return "(SELECT " + cols + "key AS n FROM json_each(" + std::string(param) + ")) AS " + std::string(alias);
}

std::string select_in(bool postgres, std::string_view columns, std::string_view table, std::string_view key) {
  std::string k(key);
  return "SELECT " + std::string(columns) + " FROM " + std::string(table) + " WHERE " + k + " IN " +
         json_values(postgres, "$1") + " ORDER BY " + k + (postgres ? " FOR UPDATE" : "");
}

std::string json_values(bool postgres, std::string_view param) {
  if (postgres) return "(SELECT json_array_elements_text(CAST(" + std::string(param) + " AS json)) AS v)";
  return "(SELECT value AS v FROM json_each(" + std::string(param) + "))";
}

std::vector<std::string> StmtCache::texts() const {
  std::vector<std::string> out;
  for (const auto& [sql, st] : map_) out.push_back(sql);
  return out;
}

std::string param(int n) {
  std::string s = "$";
  s += std::to_string(n);
  return s;
}

std::string older_than(std::string_view table, std::string_view time_col, std::string_view id_col, int id_param,
                       int ms_param) {
  std::string id = param(id_param), t(time_col), ic(id_col);
  std::string k = "COALESCE((SELECT " + t + " FROM " + std::string(table) + " WHERE " + ic + " = " + id + "), " +
                  param(ms_param) + ")";
  return "(" + t + " <= " + k + " AND (" + t + " < " + k + " OR " + ic + " < " + id + "))";
}

std::vector<std::string> list_texts(const std::string& select_from, const std::vector<std::string>& filters,
                                    std::string_view table, std::string_view time_col, std::string_view id_col) {
  std::size_t k = filters.size();
  std::vector<std::string> out(std::size_t{2} << k);
  for (std::size_t w = 0; w < out.size(); ++w) {
    std::vector<std::string> where;
    int n = 2;
    for (std::size_t i = 0; i < k; ++i)
      if (w & (std::size_t{1} << i)) where.push_back(filters[i] + " = " + param(n++));
    if (w & (std::size_t{1} << k)) where.push_back(older_than(table, time_col, id_col, n, n + 1));
    out[w] = select_from + where_all(where) + " ORDER BY " + std::string(time_col) + " DESC, " + std::string(id_col) +
             " DESC LIMIT $1";
  }
  return out;
}

void bind_older_than(Stmt& st, int index, const std::string& id) {
  st.text(index, id).integer(index + 1, uuid7_ms(id).value_or(0));
}

std::string where_all(const std::vector<std::string>& conditions) {
  std::string out;
  for (const auto& c : conditions) out += (out.empty() ? " WHERE " : " AND ") + c;
  return out;
}

}  // namespace oms::storage
