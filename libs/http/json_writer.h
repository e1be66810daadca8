#pragma once
// A small streaming JSON writer for responses. We need it because money must be written as a
// number with exactly two decimals (`150.50`), which a double-based serializer cannot promise.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libs/core/money.h"

namespace oms::http {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }

  JsonWriter& key(std::string_view k) {
    comma();
    escape(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonWriter& str(std::string_view v) {
    comma();
    escape(v);
    return *this;
  }
  JsonWriter& num(std::int64_t v) {
    comma();
    out_ += std::to_string(v);
    return *this;
  }
  JsonWriter& money(Money m) {
    comma();
    out_ += format_money(m);
    return *this;
  }
  JsonWriter& boolean(bool b) {
    comma();
    out_ += b ? "true" : "false";
    return *this;
  }
  JsonWriter& null() {
    comma();
    out_ += "null";
    return *this;
  }
  JsonWriter& opt_str(const std::optional<std::string>& v) { return v ? str(*v) : null(); }
  // Appends already-serialized JSON (e.g. a stored response body).
  JsonWriter& raw(std::string_view json) {
    comma();
    out_ += json;
    return *this;
  }

  // Convenience: "k": value pairs.
  template <class T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    if constexpr (std::is_same_v<T, Money>) return money(v);
    else if constexpr (std::is_same_v<T, bool>) return boolean(v);
    else if constexpr (std::is_integral_v<T>) return num(v);
    else if constexpr (std::is_same_v<T, std::optional<std::string>>) return opt_str(v);
    else return str(v);
  }

  std::string take() { return std::move(out_); }
  const std::string& view() const { return out_; }

 private:
  JsonWriter& open(char c) {
    comma();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  JsonWriter& close(char c) {
    out_ += c;
    first_.pop_back();
    return *this;
  }
  void comma() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_ += ',';
      first_.back() = false;
    }
  }
  void escape(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_ += kHex[c >> 4];
            out_ += kHex[c & 15];
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

}  // namespace oms::http
