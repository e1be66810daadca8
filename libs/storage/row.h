#pragma once
// Typed reads from a soci::row that behave the same on SQLite and PostgreSQL (SOCI reports
// integer columns as int, long long or even double depending on backend and declared type).
#include <soci/soci.h>

#include <optional>
#include <string>

namespace oms::storage {

inline bool is_null(const soci::row& r, std::size_t i) { return r.get_indicator(i) == soci::i_null; }

inline long long get_int(const soci::row& r, std::size_t i) {
  if (is_null(r, i)) return 0;
  switch (r.get_properties(i).get_data_type()) {
    case soci::dt_integer: return r.get<int>(i);
    case soci::dt_long_long: return r.get<long long>(i);
    case soci::dt_unsigned_long_long: return static_cast<long long>(r.get<unsigned long long>(i));
    case soci::dt_double: return static_cast<long long>(r.get<double>(i));
    case soci::dt_string: return std::stoll(r.get<std::string>(i));
    default: return r.get<long long>(i);
  }
}

inline std::optional<long long> get_opt_int(const soci::row& r, std::size_t i) {
  if (is_null(r, i)) return std::nullopt;
  return get_int(r, i);
}

inline std::string get_str(const soci::row& r, std::size_t i) {
  if (is_null(r, i)) return {};
  return r.get<std::string>(i);
}

inline std::optional<std::string> get_opt_str(const soci::row& r, std::size_t i) {
  if (is_null(r, i)) return std::nullopt;
  return r.get<std::string>(i);
}

// Binds an optional string as a nullable parameter: keep both alive until the statement runs.
struct NullableText {
  std::string value;
  soci::indicator ind;
  explicit NullableText(const std::optional<std::string>& v)
      : value(v.value_or("")), ind(v ? soci::i_ok : soci::i_null) {}
};

}  // namespace oms::storage
