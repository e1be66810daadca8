#include "libs/http/message.h"

#include <cstdint>

#include <algorithm>
#include <cctype>

namespace oms::http {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::optional<std::string_view> find(const Headers& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

void put(Headers& h, std::string name, std::string value) {
  name = lower(std::move(name));
  for (auto& [k, v] : h)
    if (k == name) {
      v = std::move(value);
      return;
    }
  h.emplace_back(std::move(name), std::move(value));
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view n) const { return find(headers, n); }
void Request::set_header(std::string n, std::string v) { put(headers, std::move(n), std::move(v)); }
std::optional<std::string_view> Response::header(std::string_view n) const { return find(headers, n); }
void Response::set_header(std::string n, std::string v) { put(headers, std::move(n), std::move(v)); }

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return std::string_view(it->second);
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    std::uint32_t cp = c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string percent_decode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_as_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::map<std::string, std::string> parse_query(std::string_view q) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq), true);
    std::string val = eq == std::string_view::npos ? "" : percent_decode(part.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(val));  // first occurrence wins
  }
  return out;
}

}  // namespace oms::http
