// Money parsing (libs/core/money.h): whatever the text, parse_money answers or declines; what it
// accepts formats back to text that parses to the same amount.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "libs/core/money.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = oms::parse_money(text);
  if (m) {
    auto again = oms::parse_money(oms::format_money(*m));
    if (!again || again->minor != m->minor) std::abort();
  }
  return 0;
}
