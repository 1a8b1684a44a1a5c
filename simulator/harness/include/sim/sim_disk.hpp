#pragma once
// SimDisk: one node's disk and its kernel page cache, surviving the node's
// crashes. Two kinds of crash, as on Linux:
// - A process crash loses the process (its open files, their queued
//   operations) but not the page cache: bytes appended and never synced are
//   still read back when the server restarts.
// - A power loss loses the page cache. What was not synced is lost, or torn:
//   mostly a prefix of it reaches the disk, cut at any byte; in one power loss
//   in three the kernel wrote it back out of order instead, each page (or, on
//   a disk without atomic page writes, each 512-byte sector) whole or not at
//   all, the unwritten ones reading as zeros, and the file's size reaching
//   the disk or not. A file whose directory entry was never synced is gone
//   whole, and so is every file of a directory never synced in its parent.
// Sync failures follow Linux's rules: the failed range is either dropped from
// the cache (reads see zeros) or kept there, and either way it is marked clean,
// so a later sync reports success without writing it; only a power loss shows
// what the disk really holds. Faults: appends or syncs failing with EIO or
// ENOSPC for a window of time, slow syncs.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bank/io.hpp"
#include "sim/world.hpp"

namespace sim {

struct DiskConfig {
  std::int64_t append_latency_ms_max = 2;
  std::int64_t sync_latency_ms_min = 1;
  std::int64_t sync_latency_ms_max = 8;
};

struct DiskFaults {
  std::int64_t fail_appends_until_ms = 0;
  std::int64_t fail_syncs_until_ms = 0;
  std::int64_t fail_reads_until_ms = 0;  // An unreadable sector: opening (reading) a file fails.
  int error_code = 0;                    // EIO or ENOSPC.
  std::int64_t slow_syncs_until_ms = 0;  // Appends are slowed too, by a quarter as much.
  std::int64_t slow_sync_extra_ms = 0;
  bool errors_active(std::int64_t now_ms) const {
    return fail_appends_until_ms > now_ms || fail_syncs_until_ms > now_ms;
  }
};

// One file. Appends only grow it, so the durable bytes are a prefix of what
// the disk will hold after the next successful sync.
struct SimFileState {
  std::string durable;         // On stable storage: what a power loss keeps.
  std::string cached;          // What reads return: the page cache's view of the file.
  std::size_t dirty_from = 0;  // cached[dirty_from..] is dirty: the next successful sync writes it.
  bool exists = false;
  bool entry_durable = false;  // The directory entry naming the file was synced.
};

class SimDisk final : public bank::Disk {
 public:
  SimDisk(World& world, DiskConfig config)
      : world_(world), config_(config), rng_(world.stream_seed("disk"), world.salt_source()) {}

  bank::Result<bank::OpenedFile> open(const std::string& name) override;
  bank::IoStatus sync_directory() override;
  // The data directory is created with its first file; its entry in its
  // parent is durable once this succeeds.
  bank::IoStatus sync_directory_in_parent() override;

  // A process crash needs nothing from the disk: the caller destroys its open
  // files (cancelling what they had queued) and the page cache stays.
  // A power loss: every file keeps its durable bytes plus, when its entry is
  // durable, what writeback got to the disk of what it would have written
  // next (see the top of this file). Returns the bytes of page cache lost.
  std::uint64_t power_loss();
  // How many power losses wrote back out of order, and how many took the
  // data directory whole.
  std::uint64_t power_losses_out_of_order() const { return power_losses_out_of_order_; }
  std::uint64_t directories_lost() const { return directories_lost_; }
  bool directory_entry_durable() const { return directory_entry_durable_; }

  DiskFaults& faults() { return faults_; }
  // Fails exactly the nth append or sync from now on (1-based) with error_code:
  // lets a test visit every failure point in turn. n == 0 clears it.
  void fail_nth_operation(std::uint64_t n, int error_code) {
    fail_operation_number_ = n == 0 ? 0 : operations_ + n;
    fail_operation_error_ = error_code;
  }
  // Counts an operation; returns the error to fail it with, or 0.
  int next_operation_error();
  // Media damage. Each records how to undo it, as an operator restoring the
  // file from a backup would (repair()).
  // Flips one bit of the file's synced bytes, counting offsets from its end;
  // returns the offset flipped, or -1 when the file holds no synced byte.
  std::int64_t flip_bit(const std::string& name, std::uint64_t from_end, unsigned bit);
  // The file's next append lands at an earlier offset (pick modulo its size),
  // overwriting what was there, while its own place fills with zeros.
  void misdirect_next_append(const std::string& name, std::uint64_t pick);
  // Undoes every corruption made so far; returns how many there were.
  std::size_t repair();
  std::size_t corruptions() const { return patches_.size(); }
  // The file now ends at size_bytes: damage past it went with the bytes.
  void forget_damage_past(const std::string& name, std::size_t size_bytes);
  // An operator cuts a closed file at size_bytes (on the disk and in the cache).
  void cut(const std::string& name, std::size_t size_bytes);
  // Called by an open file for each append: applies a misdirection if one is armed.
  bool take_misdirected_append(SimFileState& state, const std::string& bytes);

  const SimFileState* file(const std::string& name) const;
  // Some file holds bytes that a power loss would take: the worst moment for one.
  bool holds_unsynced_bytes() const;
  // Sets a file's bytes as both durable and cached, with a durable entry.
  void put_file_for_test(const std::string& name, std::string bytes);
  World& world() { return world_; }
  Rng& rng() { return rng_.at(world_.now_ms()); }  // Latencies, torn writes, what a power loss keeps.
  const DiskConfig& config() const { return config_; }

  // The Linux rules for a failed sync, applied to one file; says what became
  // of its unsynced bytes (for the trace).
  std::string sync_failed(SimFileState& state);
  // Bytes held in the page cache that no sync has written yet.
  std::uint64_t unsynced_bytes() const;
  // A successful sync of one file: writes its dirty bytes (and zeros where a
  // failed sync left clean pages that never reached the disk).
  static void sync_succeeded(SimFileState& state);

  std::uint64_t appends_failed = 0;
  std::uint64_t syncs_failed = 0;
  std::uint64_t syncs_done = 0;
  std::uint64_t failed_ranges_kept = 0;     // Failed syncs whose range stayed readable.
  std::uint64_t failed_ranges_dropped = 0;  // Failed syncs whose range now reads as zeros.

 private:
  World& world_;
  DiskConfig config_;
  MomentRng rng_;
  DiskFaults faults_;
  std::uint64_t operations_ = 0;
  std::uint64_t fail_operation_number_ = 0;
  int fail_operation_error_ = 0;
  std::map<std::string, SimFileState> files_;
  bool directory_exists_ = false;         // Created with the first file.
  bool directory_entry_durable_ = false;  // Its entry in its parent was synced.
  std::uint64_t power_losses_ = 0;
  std::uint64_t power_losses_out_of_order_ = 0;
  std::uint64_t directories_lost_ = 0;
  struct Patch {
    std::string file;
    std::size_t offset;
    std::string correct;  // What belongs at offset.
  };
  std::vector<Patch> patches_;
  std::string misdirect_file_;
  std::uint64_t misdirect_pick_ = 0;
  bool misdirect_armed_ = false;
};

}  // namespace sim
