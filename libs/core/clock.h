#pragma once
// Time as UTC epoch milliseconds everywhere (storage and messages); RFC 3339 only at the API.
#include <cstdint>
#include <string>

namespace oms {

std::int64_t now_ms();
std::string rfc3339(std::int64_t epoch_ms);  // 2026-11-25T12:00:00.123Z

}  // namespace oms
