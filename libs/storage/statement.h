#pragma once
// Statements planned once per connection, and multi-row statements whose text does not change
// with the number of rows.
//
// A Stmt is prepared once on one connection and run many times: on PostgreSQL it is a named
// prepared statement (parsed and planned once per connection), on SQLite a kept sqlite3_stmt.
// It talks to the connection's native API (libpq, sqlite3) under the SOCI session: SOCI's own
// prepared statements cannot be rebound cheaply and send DEALLOCATE from their destructors.
// Parameters are $1, $2, … on both backends; values travel as text or 64-bit integers; errors
// are thrown as SOCI's own error types, so callers classify them as before.
//
// Multi-row work passes its rows as one JSON array parameter (json_rows() below): SQLite reads
// it with json_each, PostgreSQL with json_array_elements, so one statement text serves 1 or 500
// rows and is planned once (ADR 8).
//
// Threads: a Stmt belongs to its connection; Database hands each thread the cache of the
// connection it is using (stmt() finds it), so callers never share one.
#include <soci/soci.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace oms::storage {

class Stmt {
 public:
  Stmt(soci::session& s, const std::string& sql);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Parameter i is $(i+1) in the text.
  Stmt& text(int i, std::string_view v);
  Stmt& text(int i, const std::string& v) { return text(i, std::string_view(v)); }
  Stmt& text(int i, const char* v) { return text(i, std::string_view(v)); }
  Stmt& text(int i, const std::optional<std::string>& v);  // nullopt binds NULL
  Stmt& integer(int i, long long v);
  // Runs it. A query (or RETURNING) is positioned before its first row; returns the rows changed.
  long long run();
  bool next();    // moves to the next result row; false after the last
  void finish();  // done with the results (StmtRef calls it)

  std::string str(int c) const;
  bool is_null(int c) const;
  std::optional<std::string> opt_str(int c) const;
  long long num(int c) const;  // 0 for NULL

 private:
  struct Param {
    std::string text;
    long long num = 0;
    enum { kNull, kText, kInt } kind = kNull;
  };
  Param& param(int i);
  [[noreturn]] void fail_sqlite(int rc);

  bool pg_;
  void* conn_;  // sqlite3* or PGconn*
  std::vector<Param> params_;
  // SQLite
  void* stmt_ = nullptr;  // sqlite3_stmt*
  std::vector<int> index_;  // parameter i's SQLite index
  bool has_row_ = false, first_ = false;
  // PostgreSQL
  std::string name_;
  void* result_ = nullptr;  // PGresult*
  int row_ = -1, rows_ = 0;
};

// The statements one connection has prepared, by SQL text.
class StmtCache {
 public:
  Stmt& get(soci::session& s, const std::string& sql);
  void clear() { map_.clear(); }
  std::vector<std::string> texts() const;  // of every statement in it (tests check their plans)

 private:
  std::unordered_map<std::string, std::unique_ptr<Stmt>> map_;
};

// Makes `cache` the statement cache of `s` for the calling thread while it lives (Database does
// this around every read and write).
class CacheScope {
 public:
  CacheScope(soci::session& s, StmtCache* cache);
  ~CacheScope();
  CacheScope(const CacheScope&) = delete;
  CacheScope& operator=(const CacheScope&) = delete;
};

// The statement `sql` prepared on `s`: from the connection's cache when the calling thread is
// inside Database::read/write on it, else prepared for this one use.
class StmtRef {
 public:
  StmtRef(soci::session& s, const std::string& sql);
  ~StmtRef();
  StmtRef(const StmtRef&) = delete;
  StmtRef& operator=(const StmtRef&) = delete;
  Stmt* operator->() { return p_; }
  Stmt& operator*() { return *p_; }

 private:
  std::unique_ptr<Stmt> owned_;
  Stmt* p_;
};

bool is_postgres(soci::session& s);

// What this process asked of its databases, for the cost model of a saga (/metrics).
struct DbStats {
  std::atomic<unsigned long long> statements{0};       // every statement sent, BEGIN and COMMIT included
  std::atomic<unsigned long long> durable_commits{0};  // commits that waited for the disk (an fsync each)
  std::atomic<unsigned long long> lazy_commits{0};     // commits that rode on a later fsync
};
DbStats& db_stats();

// Picks the text for the session's backend (the two texts live as long as the program).
const std::string& by_backend(soci::session& s, const std::string& sqlite, const std::string& postgres);

// A JSON array of rows, each an array of values, for one multi-row parameter.
// Keyset paging, newest first by (time_col, id_col): the condition for rows strictly older than
// the row whose id is parameter $<id_param> — or, for an id the table has not got, older than
// the UUIDv7 time in parameter $<ms_param>. An index that starts with the equality filters and
// then time_col serves it as a range.
std::string older_than(std::string_view table, std::string_view time_col, std::string_view id_col, int id_param,
                       int ms_param);
// The texts of a newest-first list, one per combination of optional filters, each planned once:
// `select_from` ("SELECT … FROM t"), then for bit i of the index set the condition
// "filters[i] = $n" (in the order of `filters`, numbered from $2; $1 is the LIMIT), and for the
// bit after them older_than(table, time_col, id_col) with the next two numbers; ordered by
// (time_col, id_col) descending.
std::vector<std::string> list_texts(const std::string& select_from, const std::vector<std::string>& filters,
                                    std::string_view table, std::string_view time_col, std::string_view id_col);
// "$n": the text of the n-th parameter.
std::string param(int n);
// Binds the two parameters of older_than(…, index + 1, index + 2) (0-based `index`): the item's
// id, and its UUIDv7 time for an id the table has not got.
void bind_older_than(Stmt& st, int index, const std::string& id);
// " WHERE a AND b …", or "" for no conditions.
std::string where_all(const std::vector<std::string>& conditions);

class JsonRows {
 public:
  JsonRows& row();  // starts the next row
  JsonRows& add(std::string_view text);
  JsonRows& add(const std::string& text) { return add(std::string_view(text)); }
  JsonRows& add(const char* text) { return add(std::string_view(text)); }
  JsonRows& add(const std::optional<std::string>& text);
  JsonRows& add(const std::optional<std::int64_t>& n) { return n ? add(static_cast<long long>(*n)) : add_null(); }
  JsonRows& add(long long n);
  JsonRows& add_null();
  std::string take();
  bool empty() const { return rows_ == 0; }
  int size() const { return rows_; }

 private:
  std::string out_ = "[";
  int rows_ = 0;
  bool row_open_ = false, first_value_ = true;
};

// A JSON array of strings (ids).
std::string json_strings(const std::vector<std::string>& values);

// Runs the multi-row statement (its one parameter, $1, is the JSON rows) for `items`, each
// added as a row by add(JsonRows&, item); nothing when there are none. Returns the rows changed.
template <class Items, class AddRow>
long long run_rows(soci::session& s, const std::string& sqlite, const std::string& postgres, const Items& items,
                   AddRow add) {
  if (items.empty()) return 0;
  JsonRows rows;
  for (const auto& item : items) add(rows.row(), item);
  StmtRef st(s, by_backend(s, sqlite, postgres));
  return st->text(0, rows.take()).run();
}

// Runs a query whose one parameter ($1) is a key and returns its first row as from(Stmt&), if any.
template <class T, class FromRow>
std::optional<T> select_one(soci::session& s, const std::string& sql, std::string_view key, FromRow from) {
  StmtRef st(s, sql);
  st->text(0, key).run();
  if (!st->next()) return std::nullopt;
  return from(*st);
}

// Runs the query (its one parameter, $1, is a JSON array of keys) and collects every row as
// from(Stmt&), keyed by the text of column `key_column`.
template <class T, class FromRow>
std::map<std::string, T> select_by_keys(soci::session& s, const std::string& sqlite, const std::string& postgres,
                                        const std::vector<std::string>& keys, int key_column, FromRow from) {
  std::map<std::string, T> out;
  if (keys.empty()) return out;
  StmtRef st(s, by_backend(s, sqlite, postgres));
  st->text(0, json_strings(keys)).run();
  while (st->next()) out.emplace(st->str(key_column), from(*st));
  return out;
}

// The FROM clause that turns the JSON rows parameter `param` (e.g. "$1") into a table `alias` with columns
// c0…cN (typed by `types`: 's' text, 'i' BIGINT) and n (the row's position, for ORDER BY).
std::string json_table(bool postgres, std::string_view param, std::string_view types, std::string_view alias);
// The same for a JSON array of strings: a subquery of one column `v`.
std::string json_values(bool postgres, std::string_view param);
// "SELECT columns FROM table WHERE key IN (the JSON array of keys $1) ORDER BY key", and on
// PostgreSQL FOR UPDATE: the rows a batch is about to change, locked in key order so that two
// batches naming the same rows cannot deadlock.
std::string select_in(bool postgres, std::string_view columns, std::string_view table, std::string_view key);

}  // namespace oms::storage
