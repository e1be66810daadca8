#include "libs/runtime/metrics.h"

#include <prometheus/text_serializer.h>

#include "libs/storage/statement.h"

namespace oms::runtime {
namespace {

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(prometheus::BuildCounter()
                         .Name("oms_http_requests_total")
                         .Help("HTTP requests by method and status")
                         .Register(*registry_)),
      orders_created(counter(*registry_, "oms_orders_created_total", "Orders accepted (201)")),
      sagas_completed(counter(*registry_, "oms_sagas_completed_total", "Sagas that reached COMPLETED")),
      sagas_failed(counter(*registry_, "oms_sagas_failed_total", "Sagas that reached FAILED")),
      sagas_cancelled(counter(*registry_, "oms_sagas_cancelled_total", "Sagas that reached CANCELLED")),
      outbox_published(counter(*registry_, "oms_outbox_published_total", "Outbox rows published")),
      messages_handled(counter(*registry_, "oms_bus_messages_handled_total", "Messages handled by consumers")),
      dead_letters(counter(*registry_, "oms_dead_letters_total", "Messages moved to a dead-letter store")),
      sagas_needing_attention(prometheus::BuildGauge()
                                  .Name("oms_sagas_needing_attention")
                                  .Help("Sagas in NEEDS_ATTENTION: a compensation failed past its retries")
                                  .Register(*registry_)
                                  .Add({})),
      http_duration(prometheus::BuildHistogram()
                        .Name("oms_http_request_duration_seconds")
                        .Help("Time to answer an HTTP request at the gateway")
                        .Register(*registry_)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                          0.05, 0.1, 0.25, 0.5, 1, 2.5})),
      saga_duration(prometheus::BuildHistogram()
                        .Name("oms_saga_duration_seconds")
                        .Help("Time from the saga's start to its outcome")
                        .Register(*registry_)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                          1, 2.5, 5, 10, 30, 60})) {}

prometheus::Counter& Metrics::http_request(const std::string& method, int status) {
  return http_requests_.Add({{"method", method}, {"status", std::to_string(status)}});
}

std::string Metrics::serialize() const {
  std::string out = prometheus::TextSerializer().Serialize(registry_->Collect());
  // The storage layer's own counters (it does not depend on this module).
  const auto& db = storage::db_stats();
  out += "# HELP oms_db_statements_total SQL statements sent to the databases, BEGIN and COMMIT included\n"
         "# TYPE oms_db_statements_total counter\n"
         "oms_db_statements_total " + std::to_string(db.statements.load()) + "\n"
         "# HELP oms_db_commits_total Commits; durable ones waited for the disk (one fsync each), lazy ones rode on a later one\n"
         "# TYPE oms_db_commits_total counter\n"
         "oms_db_commits_total{durable=\"true\"} " + std::to_string(db.durable_commits.load()) + "\n"
         "oms_db_commits_total{durable=\"false\"} " + std::to_string(db.lazy_commits.load()) + "\n";
  return out;
}

}  // namespace oms::runtime
