#pragma once
// Fault injection at run time (API.md, "Fault injection"): per operation of a participant
// (payment: authorize, refund; inventory: reserve, release; fulfillment: create, cancel), a delay
// and a failure rate. A failure is a transient error of the participant: the handler fails for
// that message, which the bus redelivers with backoff (libs/bus/redelivery.h) — so the saga
// sees what a flaky provider or warehouse would cause. Settings live in memory and reset on
// restart; --payment-delay-ms / --inventory-delay-ms are the start values of authorize / reserve.
//   GET /api/admin/<service>/faults   the settings of every operation
//   PUT /api/admin/<service>/faults   {"<operation>": {"delayMs": 0-60000, "failRate": 0.0-1.0}}
//                                      replaces them (operations not named go back to none)
// Admin only, and only with --fault-injection (otherwise the routes do not exist: 404).
#include <cstdint>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "libs/core/error.h"
#include "libs/runtime/context.h"

namespace oms::runtime {

class Faults {
 public:
  struct Setting {
    std::int64_t delay_ms = 0;
    double fail_rate = 0;
  };
  explicit Faults(const std::vector<std::string>& operations);

  void set(const std::string& operation, Setting s);
  // Before one message of `operation`: waits its delay, then fails (throws) at its rate.
  void apply(const std::string& operation) const;
  std::string json() const;
  // Replaces every setting from a PUT body; nothing changes when it is invalid.
  Result<void> replace(std::string_view body);

 private:
  mutable std::mutex mu_;
  std::map<std::string, Setting> settings_;
  std::atomic<bool> any_{false};  // some setting is not "none": apply() may skip the lock otherwise
};

// Adds GET/PUT /api/admin/<service>/faults when settings.fault_injection is on.
void register_fault_routes(ServiceContext& ctx, const std::string& service, std::shared_ptr<Faults> faults);

}  // namespace oms::runtime
