#include <bit>
#include <catch2/catch.hpp>
#include <cerrno>
#include <map>
#include <set>

#include "bank/journal.hpp"
#include "support/sim_bank.hpp"

using bank::Money;
using bank::Transaction;

namespace {

std::string journal_of(const std::vector<Transaction>& transactions) {
  std::string bytes;
  for (const auto& t : transactions) bank::encode_record(bytes, t);
  return bytes;
}

std::vector<Transaction> sample() {
  return {Transaction{1, 100, Money{1250}, 0, "k1"}, Transaction{2, 100, Money{-300}, 0, ""},
          Transaction{3, 105, Money{-1250}, 1, "void-1"}};
}

}  // namespace

TEST_CASE("a record reads back as written") {
  for (const auto& t : sample()) {
    std::string bytes;
    bank::encode_record(bytes, t);
    auto decoded = bank::decode_record(bytes);
    REQUIRE(decoded.outcome == bank::DecodeOutcome::ok);
    CHECK(decoded.transaction == t);
    CHECK(decoded.record_bytes == bytes.size());
  }
}

TEST_CASE("a record cut inside its header is incomplete while what is there agrees with a header") {
  std::string bytes;
  bank::encode_record(bytes, sample()[0]);
  for (std::size_t cut = 0; cut < 16; ++cut) {
    INFO("cut at byte " << cut);
    CHECK(bank::decode_record(std::string_view(bytes).substr(0, cut)).outcome ==
          bank::DecodeOutcome::incomplete);
    if (cut == 0) continue;
    // A byte of the magic changed: no header begins this way.
    std::string wrong = bytes.substr(0, cut);
    wrong[std::min<std::size_t>(cut, 4) - 1] ^= 0x20;
    CHECK(bank::decode_record(wrong).outcome == bank::DecodeOutcome::corrupt);
  }
}

TEST_CASE("recovery rebuilds the ledger, balance included") {
  auto recovered = bank::recover_journal(journal_of(sample()), "bank.journal");
  REQUIRE(recovered.ok());
  CHECK(recovered->ledger.durable_count() == 3);
  CHECK(recovered->ledger.balance() == Money{-300});
  CHECK(recovered->torn_bytes == 0);
  // The keys came back too.
  auto retry = recovered->ledger.stage_create(Money{1250}, 200, "k1");
  REQUIRE(retry.ok());
  CHECK(retry->replayed_by_key);
  CHECK(retry->id == 1);
}

TEST_CASE("a journal cut at every byte of its last record loses only that record") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  for (std::size_t cut = last_start; cut < whole.size(); ++cut) {
    INFO("cut at byte " << cut << " of " << whole.size());
    auto recovered = bank::recover_journal(std::string_view(whole).substr(0, cut), "bank.journal");
    REQUIRE(recovered.ok());
    CHECK(recovered->ledger.durable_count() == 2);
    CHECK(recovered->valid_bytes == last_start);
    CHECK(recovered->torn_bytes == cut - last_start);
    CHECK(recovered->ledger.balance() == Money{950});
  }
}

TEST_CASE("a garbage tail after the last record is cut") {
  std::string bytes = journal_of(sample());
  bytes += std::string(37, '\0');
  auto recovered = bank::recover_journal(bytes, "bank.journal");
  REQUIRE(recovered.ok());
  CHECK(recovered->ledger.durable_count() == 3);
  CHECK(recovered->torn_bytes == 37);
}

TEST_CASE("damage before a valid record stops recovery, naming file and offset") {
  const std::string whole = journal_of(sample());
  const std::size_t second_start = journal_of({sample()[0]}).size();
  for (std::size_t flip = second_start; flip < second_start + 20; ++flip) {
    std::string damaged = whole;
    damaged[flip] = static_cast<char>(damaged[flip] ^ 0x40);
    auto recovered = bank::recover_journal(damaged, "data/bank.journal");
    INFO("flipped byte " << flip);
    REQUIRE_FALSE(recovered.ok());
    CHECK_THAT(recovered.error().message, Catch::Contains("data/bank.journal"));
    CHECK_THAT(recovered.error().message, Catch::Contains("offset " + std::to_string(second_start)));
  }
}

TEST_CASE("torn or rotten: a byte flipped anywhere in the last record refuses to start, naming the offset") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  for (std::size_t flip = last_start; flip < whole.size(); ++flip) {
    INFO("flipped byte " << flip << " of " << whole.size());
    std::string damaged = whole;
    damaged[flip] = static_cast<char>(damaged[flip] ^ 0x01);
    auto recovered = bank::recover_journal(damaged, "data/bank.journal");
    // Never taken for a torn write: the record was written whole, and may be acknowledged.
    REQUIRE_FALSE(recovered.ok());
    CHECK_THAT(recovered.error().message, Catch::Contains("data/bank.journal"));
    CHECK_THAT(recovered.error().message, Catch::Contains("offset " + std::to_string(last_start)));
  }
}

TEST_CASE("torn or rotten: a tail of zeros (the size reached the disk before the data) is torn and cut") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  std::string zeroed = whole;
  std::fill(zeroed.begin() + static_cast<std::ptrdiff_t>(last_start), zeroed.end(), '\0');
  auto recovered = bank::recover_journal(zeroed, "bank.journal");
  REQUIRE(recovered.ok());
  CHECK(recovered->ledger.durable_count() == 2);
  CHECK(recovered->valid_bytes == last_start);
}

// The real server grows the journal with zeros ahead of its appends: a crash
// mid-append leaves part of a record, then those zeros. Nothing in that
// record was acknowledged (its trailer never reached the disk whole).
TEST_CASE(
    "torn or rotten: a record cut anywhere, followed by the zeros set aside for appends, is torn and cut") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  for (std::size_t cut = last_start + 1; cut < whole.size(); ++cut) {
    INFO("cut at byte " << cut << " of " << whole.size());
    std::string bytes = whole.substr(0, cut) + std::string(4096, '\0');
    auto recovered = bank::recover_journal(bytes, "bank.journal");
    // A cut that only drops zeros of the trailer leaves the record whole.
    const bool trailer_whole_in_effect =
        bank::decode_record(whole.substr(last_start)).outcome == bank::DecodeOutcome::ok &&
        whole.substr(cut).find_first_not_of('\0') == std::string::npos;
    if (trailer_whole_in_effect) continue;
    REQUIRE(recovered.ok());
    CHECK(recovered->ledger.durable_count() == 2);
    CHECK(recovered->valid_bytes == last_start);
  }
}

TEST_CASE("torn or rotten: a whole record with a flipped bit before the zeros set aside is refused") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  for (std::size_t flip = last_start; flip < whole.size(); ++flip) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      INFO("flipped bit " << bit << " of byte " << flip << " of " << whole.size());
      std::string damaged = whole;
      damaged[flip] = static_cast<char>(damaged[flip] ^ (1u << bit));
      damaged += std::string(4096, '\0');
      auto recovered = bank::recover_journal(damaged, "data/bank.journal");
      REQUIRE_FALSE(recovered.ok());
      CHECK_THAT(recovered.error().message, Catch::Contains("offset " + std::to_string(last_start)));
    }
  }
}

// One set bit gone from the end of a whole record's trailer: a write torn in
// its last byte, or one flipped bit. Recovery cannot tell, refuses, and says
// where an operator who knows the disk is sound would cut.
TEST_CASE("torn or rotten: a trailer whose end is one set bit short is refused, naming where to cut") {
  for (std::int64_t cents = 1; cents < 5000; ++cents) {
    std::string last;
    bank::encode_record(last, Transaction{4, 110, Money{cents}, 0, ""});
    if (std::popcount(static_cast<unsigned char>(last.back())) != 1) continue;
    const std::string head = journal_of(sample());
    std::string bytes = head + last.substr(0, last.size() - 1) + std::string(4096, '\0');
    CHECK(bank::trailer_end_zeroed(std::string_view(bytes).substr(head.size())));
    auto recovered = bank::recover_journal(bytes, "data/bank.journal");
    REQUIRE_FALSE(recovered.ok());
    CHECK_THAT(recovered.error().message,
               Catch::Contains("the end of its trailer is zeros") &&
                   Catch::Contains("cut the file at offset " + std::to_string(head.size())));
    return;
  }
  FAIL("no record ends in a byte with one set bit");
}

TEST_CASE("a journal of the older format is refused with what to do") {
  std::string old_format = "BNK1";
  old_format += std::string(40, 'x');
  auto recovered = bank::recover_journal(old_format, "bank.journal");
  REQUIRE_FALSE(recovered.ok());
  CHECK_THAT(recovered.error().message, Catch::Contains("older format"));
}

TEST_CASE("a record with a valid checksum that breaks the ledger's rules stops recovery") {
  auto bytes = journal_of({Transaction{1, 100, Money{5}, 0, ""}, Transaction{3, 100, Money{5}, 0, ""}});
  auto recovered = bank::recover_journal(bytes, "bank.journal");
  REQUIRE_FALSE(recovered.ok());
  CHECK_THAT(recovered.error().message, Catch::Contains("id 3 where 2 was expected"));
}

TEST_CASE("opening a journal with a torn tail cuts the tail on disk") {
  test_support::SimBank bank;
  const std::string whole = journal_of(sample());
  bank.disk.put_file_for_test("bank.journal", whole.substr(0, whole.size() - 5));
  bank::Ledger ledger;
  auto journal = bank::Journal::open(bank.disk, "bank.journal", bank.log, ledger);
  REQUIRE(journal.ok());
  CHECK(ledger.durable_count() == 2);
  CHECK(bank.disk.file("bank.journal")->durable.size() == journal_of({sample()[0], sample()[1]}).size());
  CHECK_THAT(bank.log.lines.front(), Catch::Contains("cut a torn tail"));
}

// Fails the nth disk operation for every n until a run sees no failure, and
// checks after a crash and restart that exactly the acknowledged writes exist.
TEST_CASE("every journal failure point: nothing acknowledged is lost, nothing is acknowledged that failed") {
  constexpr int writes = 6;
  for (std::uint64_t n = 1;; ++n) {
    INFO("failing disk operation #" << n << " with EIO");
    test_support::SimBank bank(n);
    REQUIRE(bank.start().ok());
    bank.disk.fail_nth_operation(n, EIO);
    auto& client = bank.connect();
    std::map<std::string, std::string> acknowledged;  // key -> reply line
    int errors = 0;
    for (int i = 0; i < writes; ++i) {
      const std::string key = "w" + std::to_string(i);
      REQUIRE(bank.request(client, "CREATE_TRANSACTION") == "Enter the transaction amount:");
      const std::string reply = bank.request(client, std::to_string(i + 1) + " key=" + key);
      if (reply.rfind("id=", 0) == 0) {
        acknowledged[key] = reply;
      } else {
        CHECK_THAT(reply, Catch::StartsWith("ERROR"));
        ++errors;
      }
    }
    const bool failure_injected = bank.disk.appends_failed + bank.disk.syncs_failed > 0;
    if (failure_injected) {
      CHECK(errors > 0);
      CHECK(bank.server->writes_disabled());
      // Reads keep working.
      CHECK(bank.request(client, "HEALTH") == "healthy");
      CHECK_THAT(bank.request(client, "GET_BALANCE"), Catch::StartsWith("$"));
    }
    bank.disk.fail_nth_operation(0, 0);
    bank.power_loss();
    REQUIRE(bank.start().ok());
    const auto list = bank.server->ledger().list();
    std::set<std::uint64_t> seen_amounts;
    for (std::size_t i = 0; i < list.size(); ++i) {
      CHECK(list[i].id == i + 1);
      CHECK(seen_amounts.insert(static_cast<std::uint64_t>(list[i].amount.cents)).second);  // Never twice.
    }
    for (const auto& [key, line] : acknowledged) {
      bool found = false;
      for (const auto& t : list) found = found || (t.key == key && bank::format_transaction(t) == line);
      CHECK(found);
    }
    bank.server->ledger().check_invariants();
    // After the restart writes work again.
    auto& again = bank.connect();
    REQUIRE(bank.request(again, "CREATE_TRANSACTION") == "Enter the transaction amount:");
    CHECK_THAT(bank.request(again, "1000"), Catch::StartsWith("id="));
    if (!failure_injected) break;  // Every failure point was visited.
    REQUIRE(n < 100);
  }
}

TEST_CASE("crc32c gives the standard check value, in one piece or in parts") {
  CHECK(bank::crc32c("123456789") == 0xE3069283u);
  CHECK(bank::crc32c("") == 0u);
  const std::string long_text(1000, 'x');
  CHECK(bank::crc32c(std::string_view(long_text).substr(500),
                     bank::crc32c(std::string_view(long_text).substr(0, 500))) == bank::crc32c(long_text));
}

TEST_CASE(
    "recovery makes what it read durable before trusting it: a power loss after a process crash loses "
    "nothing served") {
  test_support::SimBank bank;
  std::string bytes;
  for (const auto& t : sample()) bank::encode_record(bytes, t);
  {
    // A process appended these and crashed before its sync: only the page cache has them.
    auto opened = bank.disk.open("bank.journal");
    REQUIRE(bank.disk.sync_directory().ok());
    opened->file->append(bytes, [](bank::IoStatus s) { REQUIRE(s.ok()); });
    REQUIRE(bank.run_until([&] { return bank.disk.file("bank.journal")->cached == bytes; }));
  }
  REQUIRE(bank.disk.file("bank.journal")->durable.empty());
  bank::Ledger ledger;
  auto journal = bank::Journal::open(bank.disk, "bank.journal", bank.log, ledger);
  REQUIRE(journal.ok());
  CHECK(ledger.durable_count() == sample().size());
  CHECK(bank.disk.file("bank.journal")->durable == bytes);
}

TEST_CASE("a journal created just now has a durable directory entry: a power loss keeps the file") {
  test_support::SimBank bank;
  REQUIRE(bank.start().ok());
  auto& c = bank.connect();
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE_THAT(bank.request(c, "5"), Catch::StartsWith("id=1 "));
  bank.power_loss();
  REQUIRE(bank.start().ok());
  CHECK(bank.server->ledger().durable_count() == 1);
}

TEST_CASE(
    "after a failed sync the server cuts what it covered: no restart serves it, whatever the page cache "
    "kept") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    test_support::SimBank bank(seed);
    REQUIRE(bank.start().ok());
    auto& c = bank.connect();
    REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
    REQUIRE_THAT(bank.request(c, "1"), Catch::StartsWith("id=1 "));
    bank.disk.faults().fail_syncs_until_ms = bank.world.now_ms() + 1'000;
    bank.disk.faults().error_code = EIO;
    REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
    REQUIRE_THAT(bank.request(c, "2"), Catch::StartsWith("ERROR journal sync failed"));
    const auto* file = bank.disk.file("bank.journal");
    CHECK(file->cached == file->durable);  // Cut back to the last successful sync.
    bank.disk.faults() = sim::DiskFaults{};
    bank.crash();  // A process crash: the page cache stays.
    REQUIRE(bank.start().ok());
    CHECK(bank.server->ledger().durable_count() == 1);
    bank.power_loss();
    REQUIRE(bank.start().ok());
    CHECK(bank.server->ledger().durable_count() == 1);
  }
}
