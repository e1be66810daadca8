#pragma once
// One redelivery policy for both buses (in-process and JetStream), so that a message meets the
// same fate in embedded and distributed mode:
//  - a message whose own handler failed is redelivered after an exponential backoff, and on its
//    kMaxAttempts-th failed delivery moved to the dead letters;
//  - a batch whose transaction failed as a whole (the database is down, a deadlock) is nobody's
//    fault: it is retried in place after a pause, and the failure counts towards no message's
//    attempts.
#include <algorithm>
#include <cstdint>

namespace oms::bus {

inline constexpr int kMaxAttempts = 5;

struct Redelivery {
  // After the handler failed on the message's `attempts`-th delivery (1-based).
  static bool dead_letter(int attempts) { return attempts >= kMaxAttempts; }
  static std::int64_t backoff_ms(int attempts) { return 50LL << std::clamp(attempts, 0, 6); }
  // Before trying a batch again whose transaction failed `tries` times in a row.
  static std::int64_t batch_retry_ms(int tries) { return std::min<std::int64_t>(2000, 100LL * std::max(tries, 1)); }
};

}  // namespace oms::bus
