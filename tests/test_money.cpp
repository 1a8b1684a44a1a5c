#include <catch2/catch.hpp>

#include "bank/money.hpp"

using bank::Money;

TEST_CASE("amounts parse exactly, per PROTOCOL.md") {
  struct Case {
    const char* text;
    std::int64_t cents;
  };
  const Case cases[] = {{"12", 1200},
                        {"-0.5", -50},
                        {"12.50", 1250},
                        {"+3.07", 307},
                        {"0", 0},
                        {"-0", 0},
                        {"0.01", 1},
                        {"007.10", 710},
                        {"100000000000.99", 10000000000099},
                        {"999999999999999.99", bank::amount_cents_max}};
  for (const auto& c : cases) {
    INFO("amount text: " << c.text);
    auto parsed = bank::parse_amount(c.text);
    REQUIRE(parsed.ok());
    CHECK(parsed->cents == c.cents);
  }
}

TEST_CASE("bad amounts are errors with a reason, never rounded") {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {{"", "amount is empty"},
                        {"1.234", "at most 2 decimals: '1.234'"},
                        {"abc", "must be a number"},
                        {"1.", "digits after the '.'"},
                        {".5", "must be a number"},
                        {"1e5", "must be a number"},
                        {"--1", "must be a number"},
                        {"1,5", "must be a number"},
                        {"1000000000000000", "out of range"},
                        {"99999999999999999999999", "out of range"},
                        {" 1", "must be a number"}};
  for (const auto& c : cases) {
    INFO("amount text: '" << c.text << "'");
    auto parsed = bank::parse_amount(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK_THAT(parsed.error().message, Catch::Contains(c.reason));
  }
}

TEST_CASE("money prints with exactly two decimals, sign first") {
  CHECK(bank::format_money(Money{0}) == "0.00");
  CHECK(bank::format_money(Money{-1250}) == "-12.50");
  CHECK(bank::format_money(Money{5}) == "0.05");
  CHECK(bank::format_money(Money{-5}) == "-0.05");
  CHECK(bank::format_money(Money{INT64_MIN}) == "-92233720368547758.08");
  CHECK(bank::format_money(Money{INT64_MAX}) == "92233720368547758.07");
}

TEST_CASE("every printed amount parses back to itself") {
  for (std::int64_t cents = -100'000; cents <= 100'000; cents += 7) {
    auto parsed = bank::parse_amount(bank::format_money(Money{cents}));
    REQUIRE(parsed.ok());
    REQUIRE(parsed->cents == cents);
  }
}

TEST_CASE("checked arithmetic reports overflow") {
  CHECK_FALSE(bank::checked_add(Money{INT64_MAX}, Money{1}).has_value());
  CHECK_FALSE(bank::checked_add(Money{INT64_MIN}, Money{-1}).has_value());
  CHECK(bank::checked_add(Money{5}, Money{-7}) == Money{-2});
  CHECK_FALSE(bank::checked_negate(Money{INT64_MIN}).has_value());
}

TEST_CASE("ids are positive 64-bit integers") {
  CHECK(*bank::parse_id("1") == 1);
  CHECK(*bank::parse_id("9223372036854775807") == bank::id_max);
  CHECK_THAT(bank::parse_id("0").error().message, Catch::Contains("positive integer"));
  CHECK_THAT(bank::parse_id("-1").error().message, Catch::Contains("positive integer"));
  CHECK_THAT(bank::parse_id("").error().message, Catch::Contains("empty"));
  CHECK_THAT(bank::parse_id("9223372036854775808").error().message, Catch::Contains("out of range"));
  CHECK_THAT(bank::parse_id("12abc").error().message, Catch::Contains("'12abc'"));
}

TEST_CASE("untrusted text is quoted safely in errors") {
  CHECK(bank::quote_for_error(std::string_view("a\x01\xff", 3)) == "'a\\x01\\xff'");
  CHECK(bank::quote_for_error(std::string(100, 'x')).size() < 60);
}
