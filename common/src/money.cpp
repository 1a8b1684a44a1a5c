#include "bank/money.hpp"

#include <fmt/format.h>

#include <limits>

namespace bank {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::string quote_for_error(std::string_view text) {
  constexpr std::size_t shown_bytes_max = 48;
  std::string out = "'";
  std::size_t shown = 0;
  for (char c : text) {
    if (shown == shown_bytes_max) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '\'') {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
    ++shown;
  }
  out += "'";
  return out;
}

Result<Money> parse_amount(std::string_view text) {
  if (text.empty()) return Error{"amount is empty; expected a number like 12.50"};
  if (text.size() > amount_text_bytes_max) return Error{"amount is too long: " + quote_for_error(text)};
  std::size_t at = 0;
  bool negative = false;
  if (text[at] == '-' || text[at] == '+') {
    negative = text[at] == '-';
    ++at;
  }
  const std::size_t integer_begin = at;
  while (at < text.size() && is_digit(text[at])) ++at;
  const std::size_t integer_end = at;
  if (integer_begin == integer_end) {
    return Error{"amount must be a number like 12.50: " + quote_for_error(text)};
  }
  std::int64_t fraction_cents = 0;
  if (at < text.size()) {
    if (text[at] != '.') return Error{"amount must be a number like 12.50: " + quote_for_error(text)};
    ++at;
    const std::size_t fraction_begin = at;
    while (at < text.size() && is_digit(text[at])) ++at;
    const std::size_t fraction_digits = at - fraction_begin;
    if (at != text.size()) return Error{"amount must be a number like 12.50: " + quote_for_error(text)};
    if (fraction_digits == 0) {
      return Error{"amount must have digits after the '.': " + quote_for_error(text)};
    }
    if (fraction_digits > 2) return Error{"amount must have at most 2 decimals: " + quote_for_error(text)};
    fraction_cents = (text[fraction_begin] - '0') * 10;
    if (fraction_digits == 2) fraction_cents += text[fraction_begin + 1] - '0';
  }
  // Accumulate whole units, refusing anything past amount_cents_max.
  constexpr std::int64_t units_max = amount_cents_max / 100;
  std::int64_t units = 0;
  for (std::size_t i = integer_begin; i < integer_end; ++i) {
    const std::int64_t digit = text[i] - '0';
    if (units > (units_max - digit) / 10) {
      return Error{fmt::format("amount is out of range: {} (the largest is {})", quote_for_error(text),
                               format_money(Money{amount_cents_max}))};
    }
    units = units * 10 + digit;
  }
  const std::int64_t cents = units * 100 + fraction_cents;
  if (cents > amount_cents_max) {
    return Error{fmt::format("amount is out of range: {} (the largest is {})", quote_for_error(text),
                             format_money(Money{amount_cents_max}))};
  }
  return Money{negative ? -cents : cents};
}

void append_money(std::string& out, Money amount) {
  // Work in unsigned so that INT64_MIN prints correctly too. Hand-rolled, not
  // fmt: LIST replies and recovery print millions of these.
  const bool negative = amount.cents < 0;
  const std::uint64_t magnitude =
      negative ? (~static_cast<std::uint64_t>(amount.cents) + 1) : static_cast<std::uint64_t>(amount.cents);
  char buffer[32];
  char* end = buffer + sizeof buffer;
  char* at = end;
  const std::uint64_t cents = magnitude % 100;
  *--at = static_cast<char>('0' + cents % 10);
  *--at = static_cast<char>('0' + cents / 10);
  *--at = '.';
  std::uint64_t units = magnitude / 100;
  do {
    *--at = static_cast<char>('0' + units % 10);
    units /= 10;
  } while (units != 0);
  if (negative) *--at = '-';
  out.append(at, static_cast<std::size_t>(end - at));
}

std::string format_money(Money amount) {
  std::string out;
  append_money(out, amount);
  return out;
}

std::optional<Money> checked_add(Money a, Money b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a.cents, b.cents, &sum)) return std::nullopt;
  return Money{sum};
}

std::optional<Money> checked_negate(Money a) {
  if (a.cents == std::numeric_limits<std::int64_t>::min()) return std::nullopt;
  return Money{-a.cents};
}

Result<std::uint64_t> parse_id(std::string_view text) {
  if (text.empty()) return Error{"transaction id is empty; expected a positive integer"};
  std::uint64_t id = 0;
  for (char c : text) {
    if (!is_digit(c)) return Error{"transaction id must be a positive integer: " + quote_for_error(text)};
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (id > (id_max - digit) / 10) return Error{"transaction id is out of range: " + quote_for_error(text)};
    id = id * 10 + digit;
  }
  if (id == 0) return Error{"transaction id must be a positive integer: " + quote_for_error(text)};
  return id;
}

}  // namespace bank
