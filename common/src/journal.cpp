#include "bank/journal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "bank/coverage.hpp"

namespace bank {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc32c_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    table[i] = crc;
  }
  return table;
}
constexpr auto crc32c_table = make_crc32c_table();

// Little-endian, whatever the machine's byte order.
template <class Unsigned>
void store_le(char* at, Unsigned value) {
  for (std::size_t i = 0; i < sizeof value; ++i) at[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, std::uint64_t value) {
  char bytes[sizeof value];
  store_le(bytes, value);
  out.append(bytes, sizeof bytes);  // One append, not eight push_backs.
}
std::uint32_t get_u32(std::string_view bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}
std::uint64_t get_u64(std::string_view bytes, std::size_t at) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

}  // namespace

namespace {

std::uint32_t crc32c_portable(std::string_view bytes, std::uint32_t crc) {
  for (char c : bytes) crc = crc32c_table[(crc ^ static_cast<unsigned char>(c)) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// The same CRC with the SSE4.2 instruction, eight bytes at a time: recovery
// checks every record of the journal.
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::string_view bytes, std::uint32_t crc) {
  const char* at = bytes.data();
  std::size_t left = bytes.size();
  std::uint64_t wide = crc;
  while (left >= 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, at, 8);
    wide = __builtin_ia32_crc32di(wide, word);
    at += 8;
    left -= 8;
  }
  auto narrow = static_cast<std::uint32_t>(wide);
  while (left > 0) {
    narrow = __builtin_ia32_crc32qi(narrow, static_cast<unsigned char>(*at));
    ++at;
    --left;
  }
  return narrow;
}
const bool has_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
#if defined(__x86_64__)
  if (has_sse42) return ~crc32c_sse42(bytes, ~crc);
#endif
  return ~crc32c_portable(bytes, ~crc);
}

void encode_record(std::string& out, const Transaction& transaction) {
  BANK_ASSERT(transaction.id != 0);
  BANK_ASSERT(transaction.key.size() <= key_bytes_max);
  const std::size_t start = out.size();
  const auto payload_bytes = static_cast<std::uint32_t>(journal_payload_fixed_bytes + transaction.key.size());
  out.reserve(start + journal_header_bytes + payload_bytes + journal_trailer_bytes);
  out.resize(start + journal_header_bytes);  // Filled in once the payload is there.
  put_u64(out, transaction.id);
  put_u64(out, static_cast<std::uint64_t>(transaction.created_at_s));
  put_u64(out, static_cast<std::uint64_t>(transaction.amount.cents));
  put_u64(out, transaction.voids_id);
  out.push_back(static_cast<char>(transaction.key.size()));
  out += transaction.key;
  // The header, built in place (16 bytes would not fit a short string).
  std::array<char, journal_header_bytes> header{};
  static_assert(journal_header_bytes == 16 && journal_trailer_bytes == journal_header_bytes);
  store_le(&header[0], journal_record_magic);
  store_le(&header[4], payload_bytes);
  store_le(&header[8], crc32c(std::string_view(out).substr(start + journal_header_bytes, payload_bytes)));
  store_le(&header[12], crc32c(std::string_view(header.data(), 12)));
  const std::string_view header_bytes(header.data(), header.size());
  out.replace(start, journal_header_bytes, header_bytes);
  out += header_bytes;  // The trailer.
  // Check the record as it will be read back.
  BANK_ASSERT(out.size() - start == journal_header_bytes + payload_bytes + journal_trailer_bytes);
  BANK_ASSERT(decode_record(std::string_view(out).substr(start)).transaction == transaction);
}

namespace {

// Whether bytes start with a whole header that checks: the magic, its own
// checksum, and a payload length a record can have.
bool header_verifies(std::string_view bytes) {
  if (bytes.size() < journal_header_bytes) return false;
  if (get_u32(bytes, 0) != journal_record_magic || crc32c(bytes.substr(0, 12)) != get_u32(bytes, 12))
    return false;
  const std::uint32_t payload_bytes = get_u32(bytes, 4);
  return payload_bytes >= journal_payload_fixed_bytes && payload_bytes <= journal_payload_bytes_max;
}

// Decodes the record at the start of bytes; with check_trailer false, a
// trailer that disagrees with the header does not make it corrupt.
DecodedRecord decode(std::string_view bytes, bool check_trailer) {
  DecodedRecord result;
  if (bytes.size() < journal_header_bytes) {
    // A prefix of a header is a torn write only if what is there agrees with one.
    char magic[sizeof journal_record_magic];
    store_le(magic, journal_record_magic);
    const std::size_t compared = std::min(bytes.size(), sizeof magic);
    result.outcome = bytes.substr(0, compared) == std::string_view(magic, compared)
                         ? DecodeOutcome::incomplete
                         : DecodeOutcome::corrupt;
    return result;
  }
  if (!header_verifies(bytes)) return result;
  const std::string_view header = bytes.substr(0, journal_header_bytes);
  const std::uint32_t payload_bytes = get_u32(header, 4);
  const std::size_t record_bytes = journal_header_bytes + payload_bytes + journal_trailer_bytes;
  if (bytes.size() < record_bytes) {
    // The header is whole and checked: the file ends inside this record.
    result.outcome = DecodeOutcome::incomplete;
    return result;
  }
  if (check_trailer && bytes.substr(journal_header_bytes + payload_bytes, journal_trailer_bytes) != header)
    return result;
  const std::string_view payload = bytes.substr(journal_header_bytes, payload_bytes);
  if (crc32c(payload) != get_u32(header, 8)) return result;
  const std::size_t key_bytes = static_cast<unsigned char>(payload[32]);
  if (journal_payload_fixed_bytes + key_bytes != payload_bytes) return result;
  result.transaction.id = get_u64(payload, 0);
  result.transaction.created_at_s = static_cast<std::int64_t>(get_u64(payload, 8));
  result.transaction.amount = Money{static_cast<std::int64_t>(get_u64(payload, 16))};
  result.transaction.voids_id = get_u64(payload, 24);
  result.transaction.key = std::string(payload.substr(journal_payload_fixed_bytes, key_bytes));
  result.record_bytes = record_bytes;
  result.outcome = DecodeOutcome::ok;
  BANK_ASSERT(result.record_bytes <= journal_record_bytes_max);
  return result;
}

}  // namespace

DecodedRecord decode_record(std::string_view bytes) {
  return decode(bytes, true);
}

namespace {

bool all_zero(std::string_view bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

// Where, in [at, until), the record at `at` reads as lost to a power loss, or
// npos. A sector that never reached the disk reads as zeros, so a lost region
// is zeros from the record's start, or from a sector's start, to the end of
// that sector; or zeros to the end of the file (its size reached the disk
// before the data, or the space set aside ahead of appends).
struct Lost {
  std::size_t at = std::string_view::npos;
  bool before_end = false;  // Bytes that did reach the disk follow it: writeback out of order.
};
Lost first_lost(std::string_view file, std::size_t at, std::size_t until) {
  BANK_ASSERT(at < file.size());
  until = std::min(until, file.size());
  const auto last_nonzero = file.find_last_not_of('\0');
  const std::size_t zeros_to_end = last_nonzero == std::string_view::npos ? 0 : last_nonzero + 1;
  const auto zeros_in_sector = [file](std::size_t from) {
    const std::size_t sector_end = (from / disk_sector_bytes + 1) * disk_sector_bytes;
    return all_zero(file.substr(from, sector_end - from));
  };
  for (std::size_t from = at; from < until && from < zeros_to_end;
       from = (from / disk_sector_bytes + 1) * disk_sector_bytes) {
    if (zeros_in_sector(from)) return {from, true};
  }
  const std::size_t zeros_from = std::max(zeros_to_end, at);
  return zeros_from < until ? Lost{zeros_from, false} : Lost{};
}

// What the damage at `at`, the first record that does not decode, is.
enum class DamageKind {
  torn,          // A power loss took part of this record: it and all after it were never synced.
  trailer_torn,  // The header and payload verify; a power loss took part of the trailer only.
  rotten,        // Anything else: damage to what may have been synced.
};

struct Damage {
  DamageKind kind = DamageKind::rotten;
  bool out_of_order = false;  // Found by a lost sector that bytes written later follow.
};

// Every lost region below reaches past the record's end (a record is shorter
// than a sector), so it takes the record's trailer too, whose magic a whole
// record always holds: one flipped bit of a whole record never reads as lost.
Damage judge_damage(std::string_view file, std::size_t at, DecodeOutcome outcome) {
  BANK_ASSERT(at < file.size());
  BANK_ASSERT(outcome != DecodeOutcome::ok);
  if (outcome == DecodeOutcome::incomplete) return {DamageKind::torn};  // The file ends inside it.
  const std::string_view rest = file.substr(at);
  if (!header_verifies(rest)) {
    // Lost from inside the header: its own bytes and the trailer's magic are zeros.
    const Lost lost = first_lost(file, at, at + journal_header_bytes);
    if (lost.at == std::string_view::npos) return {DamageKind::rotten};
    return {DamageKind::torn, lost.before_end};
  }
  const std::size_t trailer_at = at + journal_header_bytes + get_u32(rest, 4);
  const std::size_t record_end = trailer_at + journal_trailer_bytes;
  BANK_ASSERT(record_end <= file.size());  // Else it would be incomplete.
  const Lost lost = first_lost(file, at, record_end);
  if (lost.at == std::string_view::npos) return {DamageKind::rotten};
  BANK_ASSERT(lost.at > at);  // The header's magic is there.
  // What of the trailer is left must be the header's copy.
  const std::size_t trailer_kept = std::max(lost.at, trailer_at) - trailer_at;
  if (file.substr(trailer_at, trailer_kept) != rest.substr(0, trailer_kept)) return {DamageKind::rotten};
  if (decode(rest, false).outcome == DecodeOutcome::ok) return {DamageKind::trailer_torn, lost.before_end};
  // The payload fails: the lost region must reach into it.
  if (lost.at >= trailer_at) return {DamageKind::rotten};
  return {DamageKind::torn, lost.before_end};
}

// Refuses to start on damage at `at` that no power loss explains, naming the
// file, the offset, and a valid record after it if there is one.
Error refuse_damage(std::string_view file, std::size_t at, std::string_view file_name) {
  std::string follows;
  for (std::size_t probe = at + 1; probe + journal_header_bytes <= file.size(); ++probe) {
    if (decode(file.substr(probe), true).outcome == DecodeOutcome::ok) {
      follows = fmt::format(", and a valid record follows at offset {}", probe);
      break;
    }
  }
  mark(Mark::damaged_journal_refused);
  if (!follows.empty()) mark(Mark::damage_before_valid_record);
  return Error{fmt::format(
      "journal {} is damaged at offset {}: the record there fails its checksum or its trailer in a way no "
      "power loss leaves{}; refusing to start, since it may hold acknowledged transactions. Restore the "
      "file from a backup or a replica; deleting it, cutting it or setting it aside would lose them",
      file_name, at, follows)};
}

// The key of the record at the start of bytes, read without checking it: a
// hint only (see recover_journal).
std::string_view peek_key(std::string_view bytes) {
  if (bytes.size() < journal_header_bytes + journal_payload_fixed_bytes) return {};
  const std::string_view payload = bytes.substr(journal_header_bytes);
  const std::size_t key_bytes = static_cast<unsigned char>(payload[journal_payload_fixed_bytes - 1]);
  return payload.substr(journal_payload_fixed_bytes, key_bytes);
}

}  // namespace

Result<RecoveredJournal> recover_journal(std::string_view bytes, std::string_view file_name) {
  RecoveredJournal recovered;
  recovered.ledger.reserve(bytes.size() /
                           (journal_header_bytes + journal_payload_fixed_bytes + journal_trailer_bytes));
  if (bytes.size() >= 4 && get_u32(bytes, 0) == journal_record_magic_format1) {
    return Error{
        fmt::format("journal {} was written in an older format (BNK1) that this server does not read; "
                    "serve it with the server that wrote it (a new data directory starts an empty ledger, "
                    "without its transactions)",
                    file_name)};
  }
  std::size_t at = 0;
  while (at < bytes.size()) {
    DecodedRecord record = decode(bytes.substr(at), true);
    if (record.outcome != DecodeOutcome::ok) {
      const Damage damage = judge_damage(bytes, at, record.outcome);
      if (damage.out_of_order) mark(Mark::writeback_out_of_order);
      if (damage.kind == DamageKind::torn) break;
      if (damage.kind == DamageKind::rotten) return refuse_damage(bytes, at, file_name);
      // The end of the trailer was lost; the record itself is all there.
      BANK_ASSERT(damage.kind == DamageKind::trailer_torn);
      record = decode(bytes.substr(at), false);
      BANK_ASSERT(record.outcome == DecodeOutcome::ok);
      mark(Mark::torn_trailer_kept);
      recovered.torn_trailers.push_back(
          RecoveredJournal::TrailerRepair{at + record.record_bytes - journal_trailer_bytes,
                                          std::string(bytes.substr(at, journal_header_bytes))});
    }
    // The key index is a table much larger than the caches: ask for the next
    // record's slot while this one is replayed (a third of recovery's time
    // went to waiting for those slots).
    if (const std::string_view next_key = peek_key(bytes.substr(at + record.record_bytes)); !next_key.empty())
      recovered.ledger.prefetch_key(next_key);
    if (auto status = recovered.ledger.replay(std::move(record.transaction)); !status) {
      return Error{
          fmt::format("journal {} is inconsistent at offset {}: {}", file_name, at, status.error().message)};
    }
    at += record.record_bytes;
  }
  BANK_ASSERT(at <= bytes.size());
  recovered.valid_bytes = at;
  recovered.torn_bytes = bytes.size() - at;
  // No second O(n) pass of Ledger::check_invariants here: replay validated
  // each record as it came (id, created_at, amount, void, key, balance) and
  // the ledger asserted its structures on every append.
  return recovered;
}

Result<Journal> Journal::open(Disk& disk, const std::string& file_name, Logger& log, Ledger& ledger_out) {
  auto opened = disk.open(file_name);
  if (!opened) return opened.error();
  // The file may have been created just now, or by an earlier run that
  // crashed before its directory entry was synced: make the entry durable.
  if (const IoStatus status = disk.sync_directory(); !status.ok()) {
    return Error{
        fmt::format("journal {}: cannot make its directory entry durable: {}", file_name, describe(status))};
  }
  // So may the data directory itself.
  if (const IoStatus status = disk.sync_directory_in_parent(); !status.ok()) {
    return Error{fmt::format("journal {}: cannot make the data directory's entry in its parent durable: {}",
                             file_name, describe(status))};
  }
  // What was read may be only in the page cache (appends a crashed process
  // never synced): make it durable before anything is served from it.
  if (const IoStatus status = opened->file->sync_now(); !status.ok()) {
    return Error{fmt::format("journal {}: cannot make what was read durable before trusting it: {}",
                             file_name, describe(status))};
  }
  auto recovered = recover_journal(opened->contents, file_name);
  if (!recovered) return recovered.error();
  if (recovered->torn_bytes != 0) {
    mark(Mark::torn_tail_cut);
    if (all_zero(std::string_view(opened->contents).substr(recovered->valid_bytes))) {
      // What the real server sets aside ahead of its appends looks the same.
      log.info(
          "journal {}: cut {} bytes of zeros after the last record, at offset {} (space set aside for "
          "appends, or appends whose data never reached the disk; none was acknowledged)",
          file_name, recovered->torn_bytes, recovered->valid_bytes);
    } else {
      log.warn("journal {}: cut a torn tail of {} bytes at offset {} (writes that were never acknowledged)",
               file_name, recovered->torn_bytes, recovered->valid_bytes);
    }
    const IoStatus status = opened->file->truncate_now(recovered->valid_bytes);
    if (!status.ok()) {
      return Error{fmt::format("journal {}: cannot cut the torn tail at offset {}: {}", file_name,
                               recovered->valid_bytes, describe(status))};
    }
  }
  for (const RecoveredJournal::TrailerRepair& repair : recovered->torn_trailers) {
    // Mended in place before anything is appended after it: a crash midway
    // leaves the trailer torn as it was, or whole.
    log.warn(
        "journal {}: the record ending at offset {} lost the end of its trailer (a power loss during the "
        "append; its header and payload checksums verify): kept, and its trailer written again",
        file_name, repair.offset + journal_trailer_bytes);
    if (const IoStatus status = opened->file->overwrite_now(repair.offset, repair.bytes); !status.ok()) {
      return Error{fmt::format("journal {}: cannot write the trailer at offset {} again: {}", file_name,
                               repair.offset, describe(status))};
    }
  }
  log.info("journal {}: recovered {} transactions, balance {}", file_name, recovered->ledger.durable_count(),
           format_money(recovered->ledger.balance()));
  ledger_out = std::move(recovered->ledger);
  return Journal(std::move(opened->file), file_name, recovered->valid_bytes);
}

void Journal::append(std::string bytes, IoCallback done) {
  issued_bytes_ += bytes.size();
  file_->append(std::move(bytes), [this, done = std::move(done)](IoStatus status) {
    failed_ = failed_ || !status.ok();
    done(status);
  });
}

void Journal::sync(IoCallback done) {
  const std::uint64_t through_bytes = issued_bytes_;
  file_->sync([this, through_bytes, done = std::move(done)](IoStatus status) {
    failed_ = failed_ || !status.ok();
    // A sync behind a failed append succeeds, but what the append left is unknown.
    if (!failed_) durable_bytes_ = through_bytes;
    done(status);
  });
}

IoStatus Journal::discard_unsynced() {
  const IoStatus status = file_->truncate_now(durable_bytes_);
  if (status.ok()) {
    issued_bytes_ = durable_bytes_;
    failed_ = false;
  }
  return status;
}

}  // namespace bank
