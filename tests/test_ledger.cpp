#include <catch2/catch.hpp>
#include <map>

#include "bank/key_index.hpp"
#include "bank/ledger.hpp"

using bank::Ledger;
using bank::Money;

namespace {
std::uint64_t create(Ledger& ledger, std::int64_t cents, std::int64_t now_s, std::string_view key = {}) {
  auto staged = ledger.stage_create(Money{cents}, now_s, key);
  REQUIRE(staged.ok());
  ledger.mark_durable(ledger.staged_last_id());
  return staged->id;
}
}  // namespace

TEST_CASE("ids run from 1 with no gaps and the balance is the sum") {
  Ledger ledger;
  CHECK(create(ledger, 1250, 100) == 1);
  CHECK(create(ledger, -300, 101) == 2);
  CHECK(create(ledger, 5, 102) == 3);
  CHECK(ledger.balance() == Money{955});
  REQUIRE(ledger.list().size() == 3);
  CHECK(bank::format_transaction(*ledger.get(2)) == "id=2 created_at=101 amount=$-3.00");
  ledger.check_invariants();
}

TEST_CASE("readers see only durable transactions") {
  Ledger ledger;
  create(ledger, 100, 1);
  auto staged = ledger.stage_create(Money{200}, 2, {});
  REQUIRE(staged.ok());
  CHECK(ledger.get(2) == nullptr);
  CHECK(ledger.list().size() == 1);
  CHECK(ledger.balance() == Money{100});
  ledger.mark_durable(2);
  CHECK(ledger.get(2) != nullptr);
  CHECK(ledger.balance() == Money{300});
}

TEST_CASE("discarding staged writes restores every index") {
  Ledger ledger;
  create(ledger, 100, 1, "k1");
  REQUIRE(ledger.stage_create(Money{200}, 5, "k2").ok());
  auto void_staged = ledger.stage_void(1, 6, "k3");
  REQUIRE(void_staged.ok());
  REQUIRE(void_staged->id == 3);
  ledger.discard_staged();
  ledger.check_invariants();
  CHECK(ledger.staged_last_id() == 1);
  // The keys and the void are free again, and created_at goes back to the durable one.
  auto again = ledger.stage_create(Money{200}, 2, "k2");
  REQUIRE(again.ok());
  CHECK_FALSE(again->replayed_by_key);
  CHECK(ledger.get_any(2)->created_at_s == 2);
  CHECK(ledger.stage_void(1, 3, {}).ok());
}

TEST_CASE("a void reverses once, and a reversal is never voided") {
  Ledger ledger;
  create(ledger, 1250, 10);
  auto voided = ledger.stage_void(1, 11, {});
  REQUIRE(voided.ok());
  ledger.mark_durable(voided->id);
  const auto* reversal = ledger.get(voided->id);
  CHECK(bank::format_transaction(*reversal) == "id=2 created_at=11 amount=$-12.50 voids=1");
  CHECK(ledger.balance() == Money{0});

  auto twice = ledger.stage_void(1, 12, {});
  REQUIRE_FALSE(twice.ok());
  CHECK_THAT(twice.error().message, Catch::Contains("already voided by transaction 2"));
  auto of_reversal = ledger.stage_void(2, 12, {});
  REQUIRE_FALSE(of_reversal.ok());
  CHECK_THAT(of_reversal.error().message, Catch::Contains("is a reversal"));
  auto missing = ledger.stage_void(99, 12, {});
  REQUIRE(missing.ok());
  CHECK(missing->id == 0);
  ledger.check_invariants();
}

TEST_CASE("created_at never decreases when the clock steps back") {
  Ledger ledger;
  create(ledger, 1, 1000);
  create(ledger, 1, 400);  // The wall clock stepped back 600 s.
  create(ledger, 1, 1001);
  CHECK(ledger.get(1)->created_at_s == 1000);
  CHECK(ledger.get(2)->created_at_s == 1000);
  CHECK(ledger.get(3)->created_at_s == 1001);
}

TEST_CASE("an idempotency key applies once and returns the first transaction") {
  Ledger ledger;
  const auto first = create(ledger, 500, 1, "banker3-41");
  auto retry = ledger.stage_create(Money{500}, 2, "banker3-41");
  REQUIRE(retry.ok());
  CHECK(retry->replayed_by_key);
  CHECK(retry->id == first);
  CHECK(ledger.staged_last_id() == 1);
  CHECK(ledger.balance() == Money{500});
}

TEST_CASE("a create that would overflow the balance is refused and records nothing") {
  Ledger ledger;
  for (int i = 0; i < 92; ++i) create(ledger, bank::amount_cents_max, 1);
  auto overflow = ledger.stage_create(Money{bank::amount_cents_max}, 1, {});
  REQUIRE_FALSE(overflow.ok());
  CHECK_THAT(overflow.error().message, Catch::Contains("overflow the balance"));
  CHECK(ledger.staged_last_id() == 92);
  ledger.check_invariants();
}

TEST_CASE("replay rejects records that cannot follow the ledger") {
  Ledger ledger;
  bank::Transaction t{1, 10, Money{100}, 0, ""};
  REQUIRE(ledger.replay(t).ok());
  bank::Transaction gap{3, 10, Money{1}, 0, ""};
  CHECK_THAT(ledger.replay(gap).error().message, Catch::Contains("id 3 where 2 was expected"));
  bank::Transaction bad_void{2, 10, Money{-99}, 1, ""};
  CHECK_THAT(ledger.replay(bad_void).error().message, Catch::Contains("does not negate"));
  bank::Transaction back_in_time{2, 9, Money{1}, 0, ""};
  CHECK_THAT(ledger.replay(back_in_time).error().message, Catch::Contains("before the previous"));
}

TEST_CASE("keys are validated") {
  CHECK(bank::validate_key("banker3-41").ok());
  CHECK_FALSE(bank::validate_key("").ok());
  CHECK_FALSE(bank::validate_key(std::string(65, 'k')).ok());
  CHECK_FALSE(bank::validate_key("a b").ok());
}

TEST_CASE("key index: finds, refuses duplicates and forgets keys like a map, through growth and erasures") {
  // Keys live outside the index, as in the ledger: by id.
  std::vector<std::string> keys;
  for (int i = 0; i < 5000; ++i) keys.push_back("banker" + std::to_string(i % 15) + "-" + std::to_string(i));
  const bank::KeyIndex::KeyOf key_of{&keys, [](const void* all, std::uint64_t id) -> std::string_view {
                                       return (*static_cast<const std::vector<std::string>*>(all))[id - 1];
                                     }};
  bank::KeyIndex index;
  std::map<std::string, std::uint64_t> reference;
  std::uint64_t state = 12345;
  auto next = [&state] { return state = state * 6364136223846793005ULL + 1442695040888963407ULL; };
  for (int step = 0; step < 40000; ++step) {
    const std::uint64_t id = next() % keys.size() + 1;
    const std::string& key = keys[id - 1];
    if (next() % 3 == 0) {
      CHECK(index.erase(key, key_of) == (reference.erase(key) == 1));
    } else {
      const bool fresh = reference.emplace(key, id).second;
      CHECK(index.insert(key, id, key_of) == fresh);
    }
    REQUIRE(index.size() == reference.size());
  }
  for (std::uint64_t id = 1; id <= keys.size(); ++id) {
    auto it = reference.find(keys[id - 1]);
    CHECK(index.find(keys[id - 1], key_of) == (it == reference.end() ? 0 : it->second));
  }
  CHECK(index.find("no such key", key_of) == 0);
}
