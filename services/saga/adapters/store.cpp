#include "services/saga/adapters/store.h"

#include "libs/contracts/messages.h"
#include "libs/storage/row.h"

namespace oms::saga::adapters {

using domain::Saga;
using storage::get_int;
using storage::get_opt_str;
using storage::get_str;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE sagas (order_id TEXT PRIMARY KEY, customer_email TEXT NOT NULL,"
      " amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, items TEXT NOT NULL,"
      " state TEXT NOT NULL, awaiting TEXT NOT NULL, inventory_status TEXT NOT NULL,"
      " payment_status TEXT NOT NULL, fulfillment_status TEXT, cancel_requested BIGINT NOT NULL,"
      " completed_once BIGINT NOT NULL, reason TEXT, uncertain BIGINT NOT NULL, cancel_seq BIGINT NOT NULL,"
      " deadline_ms BIGINT NOT NULL, step_timeout_ms BIGINT NOT NULL, version BIGINT NOT NULL,"
      " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      "CREATE INDEX sagas_deadline ON sagas (deadline_ms)",
      "CREATE INDEX sagas_state ON sagas (state, created_ms)",
      "CREATE INDEX sagas_created ON sagas (created_ms)",
      "CREATE TABLE saga_history (order_id TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL,"
      " at_ms BIGINT NOT NULL, detail TEXT, PRIMARY KEY (order_id, seq))",
  };
  return m;
}

namespace {

constexpr const char* kColumns =
    "order_id, customer_email, amount_minor, currency, items, state, awaiting, inventory_status,"
    " payment_status, fulfillment_status, cancel_requested, completed_once, reason, uncertain,"
    " deadline_ms, step_timeout_ms, version, created_ms, updated_ms, cancel_seq";

Saga from_row(const soci::row& r) {
  Saga s;
  s.order_id = get_str(r, 0);
  s.customer_email = get_str(r, 1);
  s.amount_minor = get_int(r, 2);
  s.currency = get_str(r, 3);
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(get_str(r, 4)))
    s.items.push_back({l.productId, l.quantity, l.priceMinor});
  s.state = domain::parse_state(get_str(r, 5)).value_or(domain::State::kStarted);
  s.awaiting = domain::parse_awaiting(get_str(r, 6)).value_or(domain::Awaiting::kNone);
  s.inventory_status = get_str(r, 7);
  s.payment_status = get_str(r, 8);
  s.fulfillment_status = get_opt_str(r, 9);
  s.cancel_requested = get_int(r, 10) != 0;
  s.completed_once = get_int(r, 11) != 0;
  s.reason = get_opt_str(r, 12);
  long long u = get_int(r, 13);
  s.inventory_uncertain = u & 1;
  s.payment_uncertain = u & 2;
  s.fulfillment_uncertain = u & 4;
  s.deadline_ms = get_int(r, 14);
  s.step_timeout_ms = get_int(r, 15);
  s.version = get_int(r, 16);
  s.created_ms = get_int(r, 17);
  s.updated_ms = get_int(r, 18);
  s.cancel_seq = get_int(r, 19);
  return s;
}

// Everything bound by name, kept alive for the statement's duration.
struct Bound {
  std::string items, state, awaiting;
  storage::NullableText fulfillment, reason;
  long long cancel, completed, cancel_seq, uncertain, deadline, timeout, version, created, updated, amount;
  explicit Bound(const Saga& s)
      : state(domain::to_string(s.state)),
        awaiting(domain::to_string(s.awaiting)),
        fulfillment(s.fulfillment_status),
        reason(s.reason),
        cancel(s.cancel_requested),
        completed(s.completed_once),
        cancel_seq(s.cancel_seq),
        uncertain((s.inventory_uncertain ? 1 : 0) | (s.payment_uncertain ? 2 : 0) |
                  (s.fulfillment_uncertain ? 4 : 0)),
        deadline(s.deadline_ms),
        timeout(s.step_timeout_ms),
        version(s.version),
        created(s.created_ms),
        updated(s.updated_ms),
        amount(s.amount_minor) {
    std::vector<contracts::Line> lines;
    for (const auto& i : s.items) lines.push_back({i.product_id, i.quantity, i.price_minor});
    items = contracts::encode(lines);
  }
};

}  // namespace

std::optional<Saga> load(soci::session& sql, const std::string& order_id, bool lock) {
  soci::row r;
  sql << std::string("SELECT ") + kColumns + " FROM sagas WHERE order_id = :id" + std::string(storage::for_update(sql, lock)),
      soci::use(order_id, "id"), soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  return from_row(r);
}

void insert(soci::session& sql, const Saga& s) {
  Bound b(s);
  sql << std::string("INSERT INTO sagas (") + kColumns +
             ") VALUES (:id, :email, :amount, :currency, :items, :state, :awaiting, :inv, :pay,"
             " :ful, :cancel, :completed, :reason, :uncertain, :deadline, :timeout, :version,"
             " :created, :updated, :cseq)",
      soci::use(s.order_id, "id"), soci::use(s.customer_email, "email"), soci::use(b.amount, "amount"),
      soci::use(s.currency, "currency"), soci::use(b.items, "items"), soci::use(b.state, "state"),
      soci::use(b.awaiting, "awaiting"), soci::use(s.inventory_status, "inv"),
      soci::use(s.payment_status, "pay"), soci::use(b.fulfillment.value, b.fulfillment.ind, "ful"),
      soci::use(b.cancel, "cancel"), soci::use(b.completed, "completed"),
      soci::use(b.reason.value, b.reason.ind, "reason"), soci::use(b.uncertain, "uncertain"),
      soci::use(b.deadline, "deadline"), soci::use(b.timeout, "timeout"),
      soci::use(b.version, "version"), soci::use(b.created, "created"), soci::use(b.updated, "updated"),
      soci::use(b.cancel_seq, "cseq");
}

void update(soci::session& sql, const Saga& s) {
  Bound b(s);
  sql << "UPDATE sagas SET state = :state, awaiting = :awaiting, inventory_status = :inv,"
         " payment_status = :pay, fulfillment_status = :ful, cancel_requested = :cancel,"
         " completed_once = :completed, reason = :reason, uncertain = :uncertain,"
         " deadline_ms = :deadline, version = :version, updated_ms = :updated, cancel_seq = :cseq"
         " WHERE order_id = :id",
      soci::use(b.state, "state"), soci::use(b.awaiting, "awaiting"),
      soci::use(s.inventory_status, "inv"), soci::use(s.payment_status, "pay"),
      soci::use(b.fulfillment.value, b.fulfillment.ind, "ful"), soci::use(b.cancel, "cancel"),
      soci::use(b.completed, "completed"), soci::use(b.reason.value, b.reason.ind, "reason"),
      soci::use(b.uncertain, "uncertain"), soci::use(b.deadline, "deadline"),
      soci::use(b.version, "version"), soci::use(b.updated, "updated"), soci::use(b.cancel_seq, "cseq"),
      soci::use(s.order_id, "id");
}

void append_history(soci::session& sql, const std::string& order_id, std::int64_t version,
                    const std::vector<domain::HistoryEntry>& entries) {
  // The saga's version grows with every change that records history, and one input records a
  // handful of entries at most: version × 16 + i is unique and in order, with no extra query.
  long long seq = version * 16;
  for (const auto& e : entries) {
    std::string state(domain::to_string(e.state));
    storage::NullableText detail(e.detail);
    long long at = e.at_ms;
    sql << "INSERT INTO saga_history (order_id, seq, state, at_ms, detail)"
           " VALUES (:id, :seq, :state, :at, :detail)",
        soci::use(order_id, "id"), soci::use(seq, "seq"), soci::use(state, "state"),
        soci::use(at, "at"), soci::use(detail.value, detail.ind, "detail");
    ++seq;
  }
}

std::vector<domain::HistoryEntry> history(soci::session& sql, const std::string& order_id) {
  std::vector<domain::HistoryEntry> out;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT state, at_ms, detail FROM saga_history WHERE order_id = :id ORDER BY seq",
       soci::use(order_id, "id"));
  for (const auto& r : rows)
    out.push_back({domain::parse_state(get_str(r, 0)).value_or(domain::State::kStarted), get_int(r, 1),
                   get_opt_str(r, 2)});
  return out;
}

std::vector<Saga> list(soci::session& sql, std::optional<std::string> state, int limit) {
  std::vector<Saga> out;
  std::string q = std::string("SELECT ") + kColumns + " FROM sagas";
  std::string st = state.value_or("");
  if (state) q += " WHERE state = :state";
  q += " ORDER BY created_ms DESC, order_id DESC LIMIT :lim";
  soci::rowset<soci::row> rows = state ? (sql.prepare << q, soci::use(st, "state"), soci::use(limit, "lim"))
                                       : (sql.prepare << q, soci::use(limit, "lim"));
  for (const auto& r : rows) out.push_back(from_row(r));
  return out;
}

std::vector<std::string> overdue(soci::session& sql, std::int64_t now, int limit) {
  std::vector<std::string> out;
  long long n = now;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT order_id FROM sagas WHERE deadline_ms > 0 AND deadline_ms <= :now"
                      " ORDER BY deadline_ms LIMIT :lim",
       soci::use(n, "now"), soci::use(limit, "lim"));
  for (const auto& r : rows) out.push_back(get_str(r, 0));
  return out;
}

}  // namespace oms::saga::adapters
