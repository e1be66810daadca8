#pragma once
// What every bus adapter does with a batch of delivered messages: one transaction on the consumer's
// database; per message a savepoint, an inbox row (consumer, message id) and the handler's effects.
// A duplicate finds its inbox row and is skipped; a handler that throws rolls back to its
// savepoint only, so one poison message never blocks the others.
#include <span>
#include <string>
#include <vector>

#include "libs/bus/bus.h"
#include "libs/bus/redelivery.h"

namespace oms::bus {

enum class Outcome { kHandled, kDuplicate, kFailed };

struct Result {
  Outcome outcome;
  std::string error;  // for kFailed
};

std::vector<Result> handle_batch(const Subscription& sub, std::span<const Message* const> batch);

// Moves a message that failed too often into the consumer's dead_letters table.
void dead_letter(const Subscription& sub, const Message& msg, const std::string& error, int attempts);

}  // namespace oms::bus
