// Every ERROR the server can send, driven through the server on the simulated
// world, and the kind bank::error_kind() gives it: the simulator and clients
// tell errors apart by kind, so a reworded error that lost its kind fails here,
// not as a simulator failure far away.

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "bank/errors.hpp"
#include "support/sim_bank.hpp"

using bank::ErrorKind;
using test_support::SimBank;

namespace {
std::string kind_of(std::string_view reply) {
  return std::string(bank::error_kind_word(bank::error_kind(reply)));
}
}  // namespace

TEST_CASE("errors: malformed requests, the ledger's refusals and EXIT, each by its kind") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  CHECK(kind_of(bank.request(c, "FOO")) == "request");
  CHECK(kind_of(bank.request(c, "")) == "request");
  const std::vector<std::string> amounts = {"1.234",
                                            "abc",
                                            "",
                                            "1e5",
                                            "99999999999999999999",
                                            "1 junk",
                                            "1 key=",
                                            "1 key=has\x01"
                                            "control",
                                            std::string(200, '1')};
  for (const std::string& amount : amounts) {
    INFO("amount '" << amount << "'");
    REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
    CHECK(kind_of(bank.request(c, amount)) == "request");
  }
  for (const char* id : {"x", "0", "-1", "99999999999999999999999"}) {
    INFO("id '" << id << "'");
    REQUIRE(bank.request(c, "GET_TRANSACTION") == "Enter the transaction ID:");
    CHECK(kind_of(bank.request(c, id)) == "request");
  }
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(bank.request(c, "5").starts_with("id=1 "));
  REQUIRE(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  REQUIRE(bank.request(c, "1").starts_with("id=2 "));
  REQUIRE(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  const std::string again = bank.request(c, "1");
  CHECK(kind_of(again) == "already-voided");
  const auto already = bank::parse_void_refusal(again);
  REQUIRE(already.has_value());
  CHECK(already->target_id == 1);
  CHECK(already->other_id == 2);
  REQUIRE(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  const std::string reversal = bank.request(c, "2");
  CHECK(kind_of(reversal) == "reversal");
  const auto reversed = bank::parse_void_refusal(reversal);
  REQUIRE(reversed.has_value());
  CHECK(reversed->target_id == 2);
  CHECK(reversed->other_id == 1);
  // The largest amount, again and again, until the balance would leave its range.
  const std::string largest = bank::format_money(bank::Money{bank::amount_cents_max}).substr(1);
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE(bank.request(c, "-" + largest).starts_with("id=3 "));
  std::string overflow;
  for (int i = 0; i < 1000 && overflow.empty(); ++i) {
    REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
    const std::string reply = bank.request(c, largest);
    if (!reply.starts_with("id=")) overflow = reply;
  }
  INFO("the reply that ended the creates: " << overflow);
  CHECK(kind_of(overflow) == "overflow");
  // Voiding the negative one would add the largest amount once more.
  REQUIRE(bank.request(c, "VOID_TRANSACTION") == "Enter the transaction ID:");
  CHECK(kind_of(bank.request(c, "3")) == "overflow");
  CHECK(kind_of(bank.request(c, "EXIT")) == "exit-disabled");
  // Replies that are not errors have no kind.
  CHECK(kind_of(bank.request(c, "HEALTH")) == "none");
  CHECK(kind_of(bank.request(c, "GET_BALANCE")) == "none");
}

TEST_CASE("errors: a failed sync, then writes refused, by kind, and reads go on") {
  SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  bank.disk.faults().fail_syncs_until_ms = bank.world.now_ms() + 60'000;
  bank.disk.faults().error_code = 5;  // EIO
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  const std::string failed = bank.request(c, "5");
  CHECK(kind_of(failed) == "disk");
  CHECK(bank::outcome_unknown(bank::error_kind(failed)));
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  const std::string refused = bank.request(c, "6");
  CHECK(kind_of(refused) == "writes-disabled");
  CHECK_FALSE(bank::outcome_unknown(bank::error_kind(refused)));
  CHECK(bank.request(c, "GET_BALANCE") == "$0.00");
}

TEST_CASE("errors: the notices sent unasked, an oversized frame and shutting down, by kind") {
  {
    auto config = SimBank::default_config();
    config.connections_max = 1;
    config.idle_timeout_ms = 10'000;
    SimBank bank(1, 1'745'529'640'464, config);
    REQUIRE(bank.start().ok());
    auto& first = bank.connect("first");
    auto& second = bank.connect("second");
    REQUIRE(bank.run_until([&] { return second.closed; }));
    REQUIRE(second.replies.size() == 1);
    CHECK(kind_of(second.replies[0]) == "too-many-connections");
    bank.advance_ms(11'000);
    REQUIRE(first.closed);
    REQUIRE(first.replies.size() == 1);
    CHECK(kind_of(first.replies[0]) == "idle-timeout");
  }
  auto config = SimBank::default_config();
  config.frame_bytes_max = 64;
  SimBank bank(1, 1'745'529'640'464, config);
  REQUIRE(bank.start().ok());
  auto& big = bank.connect("big");
  CHECK(kind_of(bank.request(big, std::string(100, 'A'))) == "frame-too-large");
  // Shutting down: a client cannot be made to see these on the simulated
  // world without racing the listener's close, so the texts go round alone.
  CHECK(kind_of("ERROR " + bank::error_text::shutting_down()) == "shutting-down");
  CHECK(kind_of("ERROR " + bank::error_text::shutting_down_nothing_recorded()) == "shutting-down");
}

TEST_CASE("errors: kinds of texts no server of ours sends") {
  CHECK(bank::error_kind("ERROR something new") == ErrorKind::unknown);
  CHECK(bank::error_kind("ERRORS") == ErrorKind::none);
  CHECK(bank::error_kind("error unknown action") == ErrorKind::none);
  CHECK_FALSE(bank::parse_void_refusal("ERROR transaction x is already voided by transaction 2"));
  CHECK_FALSE(bank::parse_void_refusal("ERROR transaction 1 is already voided by transaction "));
  CHECK(bank::error_kind("ERROR transaction 1 is done") == ErrorKind::unknown);
  // Every kind has its own word.
  std::set<std::string_view> words;
  for (int kind = 0; kind <= static_cast<int>(ErrorKind::unknown); ++kind)
    words.insert(bank::error_kind_word(static_cast<ErrorKind>(kind)));
  CHECK(words.size() == static_cast<std::size_t>(ErrorKind::unknown) + 1);
}
