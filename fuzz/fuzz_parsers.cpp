// Fuzz target: the amount and id parsers. Whatever parses prints back to a
// text that parses to the same value; nothing crashes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bank/money.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto amount = bank::parse_amount(text); amount.ok()) {
    BANK_ASSERT(amount->cents >= -bank::amount_cents_max && amount->cents <= bank::amount_cents_max);
    auto again = bank::parse_amount(bank::format_money(*amount));
    BANK_ASSERT(again.ok());
    BANK_ASSERT(*again == *amount);
  } else {
    BANK_ASSERT(!amount.error().message.empty());
  }
  if (auto id = bank::parse_id(text); id.ok()) {
    BANK_ASSERT(*id >= 1 && *id <= bank::id_max);
    BANK_ASSERT(*bank::parse_id(std::to_string(*id)) == *id);
  }
  (void)bank::quote_for_error(text);
  return 0;
}
