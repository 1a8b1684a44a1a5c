#pragma once
// Money is exact: a signed count of cents, never a floating-point value.
// Text form (PROTOCOL.md, Values): optional sign, digits, optionally '.' and one
// or two digits. Printing always uses exactly two decimals, sign first.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bank/result.hpp"

namespace bank {

struct Money {
  std::int64_t cents = 0;
  friend constexpr auto operator<=>(const Money&, const Money&) = default;
};

// The largest magnitude one amount may have: 999,999,999,999,999.99 (15 integer
// digits). Balances may grow past it, up to the range of int64 cents.
inline constexpr std::int64_t amount_cents_max = 99'999'999'999'999'999;
inline constexpr std::size_t amount_text_bytes_max = 32;

Result<Money> parse_amount(std::string_view text);
std::string format_money(Money amount);  // "12.50", "-0.05", "0.00"
void append_money(std::string& out, Money amount);

// Checked arithmetic: nullopt on int64 overflow.
std::optional<Money> checked_add(Money a, Money b);
std::optional<Money> checked_negate(Money a);

// Transaction ids: positive decimal integers, at most id_max.
inline constexpr std::uint64_t id_max = 9'223'372'036'854'775'807ULL;
Result<std::uint64_t> parse_id(std::string_view text);

// Quotes untrusted text for an error message: printable ASCII kept, other bytes
// escaped, long text cut, so a reply stays one readable line.
std::string quote_for_error(std::string_view text);

}  // namespace bank
