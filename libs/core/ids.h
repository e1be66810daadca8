#pragma once
// UUIDs (v4, lower-case, hyphenated) for orders, payments, tasks, notifications and messages.
#include <optional>
#include <string>
#include <string_view>

namespace oms {

// A new UUID, version 7 (time-ordered, random below the millisecond).
std::string new_uuid();
bool is_uuid(std::string_view s);
// The smallest version-7 UUID text of that Unix millisecond: every id new_uuid() made earlier
// sorts below it (lower-case hex, fixed width), every id made then or later does not.
std::string uuid7_floor(long long unix_ms);
// The Unix millisecond a version-7 UUID was made in; nullopt for any other text.
std::optional<long long> uuid7_ms(std::string_view s);

// 1..max characters of [A-Za-z0-9._-]: product ids, request ids, tracking numbers.
bool is_token_id(std::string_view s, std::size_t max);

// Upper-case hex of n random bytes (tracking numbers, transaction ids).
std::string random_hex(std::size_t n_bytes);

}  // namespace oms
