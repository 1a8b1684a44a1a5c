#pragma once
// SimDisk: one node's disk, surviving its crashes. Each file has a durable
// part and an unsynced tail; a crash keeps the durable part and a random
// prefix of the tail (nothing, a torn piece, or all of it). Faults: appends or
// syncs that fail with EIO or ENOSPC for a window of time, and slow syncs.
// After a failed append, a random prefix of it may have landed; after a failed
// sync, what was unsynced stays unsynced: its fate is decided at the crash.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

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
  int error_code = 0;  // EIO or ENOSPC.
  std::int64_t slow_syncs_until_ms = 0;
  std::int64_t slow_sync_extra_ms = 0;
};

struct SimFileState {
  std::string durable;
  std::string unsynced;
};

class SimDisk final : public bank::Disk {
 public:
  SimDisk(World& world, DiskConfig config) : world_(world), config_(config) {}

  bank::Result<bank::OpenedFile> open(const std::string& name) override;

  // The node crashed: open files are gone (their destructors cancel pending
  // operations) and every file keeps its durable part plus a random prefix of
  // its unsynced tail. Returns the unsynced bytes lost, for the log.
  std::uint64_t crash();

  DiskFaults& faults() { return faults_; }
  // Fails exactly the nth append or sync from now on (1-based) with error_code:
  // lets a test visit every failure point in turn. n == 0 clears it.
  void fail_nth_operation(std::uint64_t n, int error_code) {
    fail_operation_number_ = n == 0 ? 0 : operations_ + n;
    fail_operation_error_ = error_code;
  }
  // Counts an operation; returns the error to fail it with, or 0.
  int next_operation_error() {
    ++operations_;
    return operations_ == fail_operation_number_ ? fail_operation_error_ : 0;
  }
  const SimFileState* file(const std::string& name) const;
  SimFileState& file_for_test(const std::string& name) { return files_[name]; }
  World& world() { return world_; }
  const DiskConfig& config() const { return config_; }

  std::uint64_t appends_failed = 0;
  std::uint64_t syncs_failed = 0;
  std::uint64_t syncs_done = 0;

 private:
  World& world_;
  DiskConfig config_;
  DiskFaults faults_;
  std::uint64_t operations_ = 0;
  std::uint64_t fail_operation_number_ = 0;
  int fail_operation_error_ = 0;
  std::map<std::string, SimFileState> files_;
};

}  // namespace sim
