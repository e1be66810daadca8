#include <gtest/gtest.h>

#include "services/gateway/gateway.h"

namespace oms::gateway {
namespace {

const char* kGateway =
    "# HELP oms_http_requests_total HTTP requests\n"
    "# TYPE oms_http_requests_total counter\n"
    "oms_http_requests_total{method=\"GET\",status=\"200\"} 7\n"
    "# HELP oms_orders_created_total Orders created\n"
    "# TYPE oms_orders_created_total counter\n"
    "oms_orders_created_total 0\n";

const char* kReplica1 =
    "# HELP oms_http_requests_total HTTP requests\n"
    "# TYPE oms_http_requests_total counter\n"
    "oms_http_requests_total{method=\"GET\",status=\"200\"} 100\n"
    "# HELP oms_orders_created_total Orders created\n"
    "# TYPE oms_orders_created_total counter\n"
    "oms_orders_created_total 3\n"
    "# TYPE oms_saga_duration_seconds histogram\n"
    "oms_saga_duration_seconds_bucket{le=\"0.1\"} 2\n"
    "oms_saga_duration_seconds_sum 0.25\n"
    "oms_saga_duration_seconds_count 2\n";

const char* kReplica2 =
    "# HELP oms_orders_created_total Orders created\n"
    "# TYPE oms_orders_created_total counter\n"
    "oms_orders_created_total 4\n"
    "# TYPE oms_saga_duration_seconds histogram\n"
    "oms_saga_duration_seconds_bucket{le=\"0.1\"} 1\n"
    "oms_saga_duration_seconds_sum 0.5\n"
    "oms_saga_duration_seconds_count 1\n";

TEST(MergeMetrics, GatewayHttpPlusServiceTotalsSummedOverReplicas) {
  std::string m = merge_metrics(kGateway, {kReplica1, kReplica2});
  // the gateway's own request counter, not the services' (they count the same requests again)
  EXPECT_NE(m.find("oms_http_requests_total{method=\"GET\",status=\"200\"} 7\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("} 100"), std::string::npos) << m;
  // the services' counters summed; the gateway's own zero is not added as a second sample
  EXPECT_NE(m.find("oms_orders_created_total 7\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("oms_orders_created_total 0"), std::string::npos) << m;
  EXPECT_NE(m.find("oms_saga_duration_seconds_bucket{le=\"0.1\"} 3\n"), std::string::npos) << m;
  EXPECT_NE(m.find("oms_saga_duration_seconds_sum 0.75\n"), std::string::npos) << m;
  EXPECT_NE(m.find("oms_saga_duration_seconds_count 3\n"), std::string::npos) << m;
  // HELP/TYPE once per family
  EXPECT_EQ(m.find("# TYPE oms_orders_created_total counter"), m.rfind("# TYPE oms_orders_created_total counter"));
}

TEST(MergeMetrics, NoServicesAnsweringLeavesTheGatewaysOwn) {
  std::string m = merge_metrics(kGateway, {});
  EXPECT_NE(m.find("oms_http_requests_total{method=\"GET\",status=\"200\"} 7\n"), std::string::npos) << m;
  EXPECT_EQ(m.find("oms_orders_created_total"), std::string::npos) << m;
}

TEST(MergeMetrics, AGaugeIsTheHighestReplicasNotTheirSum) {
  // Two saga replicas count the same table; the other services register the gauge at 0.
  const char* saga = "# TYPE oms_sagas_needing_attention gauge\noms_sagas_needing_attention 2\n";
  const char* other = "# TYPE oms_sagas_needing_attention gauge\noms_sagas_needing_attention 0\n";
  std::string m = merge_metrics(kGateway, {other, saga, saga, other});
  EXPECT_NE(m.find("oms_sagas_needing_attention 2\n"), std::string::npos) << m;
}

}  // namespace
}  // namespace oms::gateway
