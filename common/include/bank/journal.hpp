#pragma once
// The journal: the ledger's transactions as checksummed records in one
// append-only file. Record layout (format 2), little-endian:
//
//   header   magic u32 ("BNK2")  payload_bytes u32  payload_crc32c u32  header_crc32c u32 (over the 12 bytes
//   before it) payload  id u64, created_at_s i64, amount_cents i64, voids_id u64, key_bytes u8, key trailer
//   the header again, byte for byte
//
// Recovery reads records from the start and tells what a power loss can
// leave from what only damage can (docs/RECOVERY.md gives the reasoning).
// Bytes that were synced change only by damage. Bytes that were not reach the
// disk in sectors (512 bytes, file-offset aligned), whole or not at all and in
// any order, and the file's size may end anywhere among them; a sector that
// never reached the disk reads as zeros. So a record is lost to a power loss
// when the file ends inside it, or when it reads as zeros from some offset on
// (to the end of that sector, or of the file) where it must hold set bits:
// such a record was never synced, nor was anything appended after it, and
// recovery cuts the file there. A record whose header and payload checksums
// verify is kept even when a power loss took the end of its trailer. Any other
// damage may be an acknowledged transaction that rotted: recovery refuses to
// start, naming the file and the offset, and never drops it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bank/io.hpp"
#include "bank/ledger.hpp"
#include "bank/log.hpp"
#include "bank/result.hpp"

namespace bank {

inline constexpr std::uint32_t journal_record_magic = 0x324B4E42;          // "BNK2" in little-endian bytes.
inline constexpr std::uint32_t journal_record_magic_format1 = 0x314B4E42;  // "BNK1": an older format.
inline constexpr std::size_t journal_header_bytes = 16;
inline constexpr std::size_t journal_trailer_bytes = journal_header_bytes;
inline constexpr std::size_t journal_payload_fixed_bytes = 8 * 4 + 1;
inline constexpr std::size_t journal_payload_bytes_max = journal_payload_fixed_bytes + key_bytes_max;
inline constexpr std::size_t journal_record_bytes_max =
    journal_header_bytes + journal_payload_bytes_max + journal_trailer_bytes;
// The unit a disk writes whole or not at all. A page (4 KiB) is eight of them:
// a disk without atomic page writes persists a page's sectors in any order.
inline constexpr std::size_t disk_sector_bytes = 512;
static_assert(journal_record_bytes_max < disk_sector_bytes, "a record spans at most two sectors");

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

void encode_record(std::string& out, const Transaction& transaction);

// incomplete: the bytes end inside a record that agrees with itself so far
// (a torn write). corrupt: the record is damaged (rotten), or is not a record.
enum class DecodeOutcome { ok, incomplete, corrupt };
struct DecodedRecord {
  DecodeOutcome outcome = DecodeOutcome::corrupt;
  Transaction transaction;
  std::size_t record_bytes = 0;
};
// Decodes the record at the start of bytes.
DecodedRecord decode_record(std::string_view bytes);

struct RecoveredJournal {
  Ledger ledger;
  std::uint64_t valid_bytes = 0;  // The file's length once the torn tail is cut.
  std::uint64_t torn_bytes = 0;   // How many bytes of torn tail there were.
  // Records kept whose trailer's end a power loss took (header and payload
  // verify): where each trailer starts, and what belongs there. Journal::open
  // writes them again before anything is appended after them.
  struct TrailerRepair {
    std::uint64_t offset = 0;
    std::string bytes;
  };
  std::vector<TrailerRepair> torn_trailers;
};

// Rebuilds the ledger from a journal's bytes: the whole file, from offset 0
// (sectors are counted from there). file_name only names the file in errors
// and logs.
Result<RecoveredJournal> recover_journal(std::string_view bytes, std::string_view file_name);

// The journal file: recovery at open, then appends and syncs.
//
// Recovery trusts nothing it read until it has synced it: after a process
// crash the kernel's page cache still holds appends that were never synced,
// and a power loss would take them away again. After a failed append or sync,
// nothing past the last successful sync can be trusted (Linux may report a
// later sync as successful without writing the failed pages), so the server
// discards it with discard_unsynced() before it serves anything more.
class Journal {
 public:
  // Opens file_name on disk, makes its directory entry and its contents
  // durable, recovers the ledger, cuts a torn tail (logging it), and returns both.
  static Result<Journal> open(Disk& disk, const std::string& file_name, Logger& log, Ledger& ledger_out);

  Journal(Journal&&) = default;
  Journal& operator=(Journal&&) = default;

  // Precondition for both: the Journal is not moved while they are in flight.
  void append(std::string bytes, IoCallback done);
  // Makes every completed append durable; on success durable_bytes() covers them.
  void sync(IoCallback done);
  // Precondition: no append or sync in flight. Cuts the file back to its last
  // durably synced length, so that no restart can read what a failed
  // operation left behind.
  IoStatus discard_unsynced();

  const std::string& file_name() const { return file_name_; }
  std::uint64_t durable_bytes() const { return durable_bytes_; }

 private:
  Journal(std::unique_ptr<DiskFile> file, std::string file_name, std::uint64_t size_bytes)
      : file_(std::move(file)),
        file_name_(std::move(file_name)),
        issued_bytes_(size_bytes),
        durable_bytes_(size_bytes) {}
  std::unique_ptr<DiskFile> file_;
  std::string file_name_;
  std::uint64_t issued_bytes_ = 0;   // The file's length once every append issued completes.
  std::uint64_t durable_bytes_ = 0;  // The length made durable by the last successful sync.
  bool failed_ = false;              // An append or sync failed since the last discard.
};

}  // namespace bank
