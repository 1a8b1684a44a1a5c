#include <algorithm>
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

// A bit flipped in a synced record is refused, naming the file and the
// offset, or (when the flip only clears the last set bit of the trailer,
// which a power loss in the append's last sector also leaves) the record is
// kept: either way no record is lost or changed.
void check_flip_refused_or_harmless(const std::string& damaged, std::size_t record_start,
                                    const std::vector<Transaction>& records) {
  auto recovered = bank::recover_journal(damaged, "data/bank.journal");
  if (!recovered.ok()) {
    CHECK_THAT(recovered.error().message, Catch::Contains("data/bank.journal"));
    CHECK_THAT(recovered.error().message, Catch::Contains("offset " + std::to_string(record_start)));
    CHECK_THAT(recovered.error().message, !Catch::Contains("move it aside") && Catch::Contains("Restore"));
    return;
  }
  REQUIRE(recovered->ledger.durable_count() == records.size());
  for (const Transaction& t : records) CHECK(*recovered->ledger.get(t.id) == t);
  CHECK(recovered->torn_trailers.size() == 1);
}

TEST_CASE("torn or rotten: a bit flipped anywhere in the last record refuses to start or loses nothing") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  int refused = 0;
  for (std::size_t flip = last_start; flip < whole.size(); ++flip) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      INFO("flipped bit " << bit << " of byte " << flip << " of " << whole.size());
      std::string damaged = whole;
      damaged[flip] = static_cast<char>(damaged[flip] ^ (1u << bit));
      check_flip_refused_or_harmless(damaged, last_start, sample());
      refused += !bank::recover_journal(damaged, "bank.journal").ok();
    }
  }
  // Only a flip that clears a trailer's last set bit can read as a power loss.
  CHECK(refused >= static_cast<int>((whole.size() - last_start) * 8) - 1);
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
// record was acknowledged (its trailer never reached the disk whole); when
// its header and payload are whole, it is kept all the same.
TEST_CASE(
    "torn or rotten: a record cut anywhere, followed by the zeros set aside for appends, is cut or kept "
    "whole") {
  const std::string whole = journal_of(sample());
  const std::size_t last_start = journal_of({sample()[0], sample()[1]}).size();
  const std::size_t trailer_start = whole.size() - bank::journal_trailer_bytes;
  for (std::size_t cut = last_start + 1; cut < whole.size(); ++cut) {
    INFO("cut at byte " << cut << " of " << whole.size());
    std::string bytes = whole.substr(0, cut) + std::string(4096, '\0');
    auto recovered = bank::recover_journal(bytes, "bank.journal");
    REQUIRE(recovered.ok());
    if (cut >= trailer_start) {
      CHECK(recovered->ledger.durable_count() == 3);
      CHECK(*recovered->ledger.get(3) == sample()[2]);
      CHECK(recovered->valid_bytes == whole.size());
    } else {
      CHECK(recovered->ledger.durable_count() == 2);
      CHECK(recovered->valid_bytes == last_start);
    }
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
      check_flip_refused_or_harmless(damaged, last_start, sample());
    }
  }
}

namespace {

// A journal of `count` records of varied lengths, and where each starts.
struct Journal {
  std::string bytes;
  std::vector<std::size_t> starts;
  std::vector<Transaction> records;
};
Journal long_journal(std::size_t count) {
  Journal journal;
  for (std::size_t i = 1; i <= count; ++i) {
    const std::string key = i % 3 == 0 ? "" : "key-" + std::string(i % 41, 'k');
    Transaction t{i, static_cast<std::int64_t>(1'745'529'640 + i), Money{static_cast<std::int64_t>(i * 37)},
                  0, key};
    journal.starts.push_back(journal.bytes.size());
    bank::encode_record(journal.bytes, t);
    journal.records.push_back(t);
  }
  return journal;
}

// What a power loss leaves of a journal synced through `synced` bytes, whose
// bytes up to `written` were appended and not synced: each unsynced sector (or
// the part of it past `synced`) reached the disk or reads as zeros, as
// `reached` says, and the file's size is `size`.
std::string power_loss_state(const std::string& written, std::size_t synced, std::uint64_t reached,
                             std::size_t size) {
  std::string disk = written;
  const std::size_t first_sector = synced / bank::disk_sector_bytes;
  for (std::size_t sector = first_sector; sector * bank::disk_sector_bytes < written.size(); ++sector) {
    if ((reached >> (sector - first_sector)) & 1) continue;
    const std::size_t from = std::max(synced, sector * bank::disk_sector_bytes);
    const std::size_t to = std::min(written.size(), (sector + 1) * bank::disk_sector_bytes);
    std::fill(disk.begin() + static_cast<std::ptrdiff_t>(from),
              disk.begin() + static_cast<std::ptrdiff_t>(to), '\0');
  }
  disk.resize(size, '\0');
  return disk;
}

// Recovery kept every synced record, and what it kept is what was written.
void check_keeps_synced(const Journal& journal, const std::string& disk, std::size_t synced_records) {
  auto recovered = bank::recover_journal(disk, "bank.journal");
  REQUIRE(recovered.ok());
  const std::size_t kept = recovered->ledger.durable_count();
  CHECK(kept >= synced_records);
  for (std::size_t i = 0; i < kept; ++i) CHECK(*recovered->ledger.get(i + 1) == journal.records[i]);
}

}  // namespace

// The issue's minimal case: records synced through 3996, a 129-byte record
// at 3996..4125 never synced; its later page reached the disk, its first did not.
TEST_CASE("power loss: an append whose later page reached the disk without its earlier one is cut") {
  std::string synced_bytes;
  std::vector<Transaction> synced_records;
  constexpr std::size_t unkeyed_bytes = 65;
  for (std::uint64_t id = 1; 3996 - synced_bytes.size() - unkeyed_bytes > bank::key_bytes_max; ++id) {
    synced_records.push_back(Transaction{id, 1'745'529'640, Money{static_cast<std::int64_t>(id)}, 0, ""});
    bank::encode_record(synced_bytes, synced_records.back());
  }
  // One keyed record, so that the synced bytes end exactly at 3996.
  const std::size_t pad_key = 3996 - synced_bytes.size() - unkeyed_bytes;
  Transaction pad{synced_records.size() + 1, 1'745'529'640, Money{1}, 0, std::string(pad_key, 'p')};
  bank::encode_record(synced_bytes, pad);
  synced_records.push_back(pad);
  REQUIRE(synced_bytes.size() == 3996);
  std::string unsynced;
  bank::encode_record(unsynced, Transaction{synced_records.size() + 1, 1'745'529'641, Money{5}, 0,
                                            std::string(129 - 65, 'u')});
  REQUIRE(unsynced.size() == 129);
  // The disk: the synced bytes, zeros to the page's end, the record's last 29 bytes, zeros.
  std::string disk = synced_bytes + std::string(100, '\0') + unsynced.substr(100) + std::string(4096, '\0');
  auto recovered = bank::recover_journal(disk, "bank.journal");
  REQUIRE(recovered.ok());
  CHECK(recovered->ledger.durable_count() == synced_records.size());
  CHECK(recovered->valid_bytes == 3996);
}

TEST_CASE(
    "power loss: every set of unsynced sectors reaching the disk, at every size, keeps what was synced") {
  const Journal journal = long_journal(40);
  REQUIRE(journal.bytes.size() > 4 * bank::disk_sector_bytes);
  int states = 0;
  for (std::size_t synced_records = 0; synced_records < journal.records.size(); synced_records += 3) {
    const std::size_t synced = journal.starts[synced_records];
    for (std::size_t written_records = synced_records + 1; written_records <= journal.records.size();
         written_records += 4) {
      const std::size_t written =
          written_records == journal.records.size() ? journal.bytes.size() : journal.starts[written_records];
      const std::string written_bytes = journal.bytes.substr(0, written);
      const std::size_t sectors =
          (written - 1) / bank::disk_sector_bytes - synced / bank::disk_sector_bytes + 1;
      if (sectors > 6) continue;
      for (std::uint64_t reached = 0; reached < (std::uint64_t{1} << sectors); ++reached) {
        // The size reached the disk with the data, or before it (with space set aside after it too).
        for (const std::size_t size : {written, written + 4096}) {
          INFO("synced " << synced << " written " << written << " sectors reached " << reached << " size "
                         << size);
          check_keeps_synced(journal, power_loss_state(written_bytes, synced, reached, size), synced_records);
          ++states;
        }
        // Or it grew only as far as the last sector that reached the disk.
        std::size_t end = synced;
        for (std::size_t i = 0; i < sectors; ++i) {
          if ((reached >> i) & 1)
            end = std::min(written, (synced / bank::disk_sector_bytes + i + 1) * bank::disk_sector_bytes);
        }
        check_keeps_synced(journal, power_loss_state(written_bytes, synced, reached, end), synced_records);
        ++states;
      }
    }
  }
  CHECK(states > 500);
}

// A tear at a sector boundary one byte before a record's end, whose lost
// byte has one set bit (or any other number): the record is kept.
TEST_CASE("power loss: a record whose last byte's sector never reached the disk is kept") {
  constexpr std::size_t unkeyed_bytes = 65;
  std::string head;
  std::vector<Transaction> records;
  for (std::uint64_t id = 1; bank::disk_sector_bytes + 1 - head.size() - unkeyed_bytes > bank::key_bytes_max;
       ++id) {
    records.push_back(Transaction{id, 100, Money{1}, 0, ""});
    bank::encode_record(head, records.back());
  }
  const std::size_t key = bank::disk_sector_bytes + 1 - head.size() - unkeyed_bytes;
  int one_bit_lost = 0;
  for (std::int64_t cents = 1; cents <= 200; ++cents) {
    const Transaction last{records.size() + 1, 110, Money{cents}, 0, std::string(key, 'q')};
    std::string tail;
    bank::encode_record(tail, last);
    REQUIRE(head.size() + tail.size() == bank::disk_sector_bytes + 1);
    if (tail.back() == '\0') continue;  // Nothing was lost.
    one_bit_lost += std::popcount(static_cast<unsigned char>(tail.back())) == 1;
    // The sector holding the last byte never reached the disk; the file's size did.
    const std::string disk =
        head + tail.substr(0, tail.size() - 1) + std::string(bank::disk_sector_bytes, '\0');
    INFO("last byte " << int(static_cast<unsigned char>(tail.back())));
    auto recovered = bank::recover_journal(disk, "bank.journal");
    REQUIRE(recovered.ok());
    CHECK(recovered->ledger.durable_count() == records.size() + 1);
    CHECK(*recovered->ledger.get(last.id) == last);
    CHECK(recovered->torn_trailers.size() == 1);
    CHECK(recovered->valid_bytes == head.size() + tail.size());
  }
  CHECK(one_bit_lost > 0);
}

// Synced bytes change only by damage: one flipped bit anywhere in a journal
// of many sectors is refused, naming the record, or loses nothing.
TEST_CASE("torn or rotten: a bit flipped anywhere in a synced journal is refused or loses nothing") {
  const Journal journal = long_journal(24);
  for (const std::size_t zeros_after : {std::size_t{0}, std::size_t{4096}}) {
    for (std::size_t flip = 0; flip < journal.bytes.size(); ++flip) {
      const std::size_t record = static_cast<std::size_t>(
          std::upper_bound(journal.starts.begin(), journal.starts.end(), flip) - journal.starts.begin() - 1);
      for (unsigned bit = 0; bit < 8; bit += 3) {
        INFO("flipped bit " << bit << " of byte " << flip << ", zeros after: " << zeros_after);
        std::string damaged = journal.bytes;
        damaged[flip] = static_cast<char>(damaged[flip] ^ (1u << bit));
        damaged += std::string(zeros_after, '\0');
        check_flip_refused_or_harmless(damaged, journal.starts[record], journal.records);
      }
    }
  }
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

// A record kept with a torn trailer is mended before anything is appended
// after it: else the appends would hide what made the tear recognisable.
TEST_CASE(
    "opening a journal whose last record lost the end of its trailer mends it, and later appends keep it") {
  test_support::SimBank bank;
  const std::string whole = journal_of(sample());
  bank.disk.put_file_for_test("bank.journal", whole.substr(0, whole.size() - 3) + std::string(600, '\0'));
  REQUIRE(bank.start().ok());
  CHECK(bank.server->ledger().durable_count() == 3);
  CHECK(bank.disk.file("bank.journal")->durable == whole);
  auto& c = bank.connect();
  REQUIRE(bank.request(c, "CREATE_TRANSACTION") == "Enter the transaction amount:");
  REQUIRE_THAT(bank.request(c, "7"), Catch::StartsWith("id=4 "));
  bank.power_loss();
  REQUIRE(bank.start().ok());
  CHECK(bank.server->ledger().durable_count() == 4);
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
