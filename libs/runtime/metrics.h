#pragma once
// Process-wide Prometheus metrics (prometheus-cpp core), served as text by /metrics.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace oms::runtime {

class Metrics {
 public:
  Metrics();
  std::string serialize() const;
  prometheus::Counter& http_request(const std::string& method, int status);

 private:
  std::shared_ptr<prometheus::Registry> registry_;  // first: the members below are built from it
  prometheus::Family<prometheus::Counter>& http_requests_;

 public:
  prometheus::Counter& orders_created;
  prometheus::Counter& sagas_completed;
  prometheus::Counter& sagas_failed;
  prometheus::Counter& sagas_cancelled;
  prometheus::Counter& outbox_published;
  prometheus::Counter& messages_handled;
  prometheus::Counter& dead_letters;
  prometheus::Gauge& sagas_needing_attention;  // the saga service's, counted by its timer
  prometheus::Histogram& http_duration;  // seconds from request parsed to response ready
  prometheus::Histogram& saga_duration;  // seconds from order.created to COMPLETED/FAILED/CANCELLED
};

}  // namespace oms::runtime
