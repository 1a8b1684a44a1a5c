#pragma once
// Disk over POSIX files in one directory. Appends and fdatasyncs run in issue
// order, on the event loop when it has nothing else to do (as Redis does),
// else on one worker thread per file while the loop goes on serving; the
// worker's completions are posted back to the loop. A file is grown ahead of
// its appends with zeros, so that an append's fdatasync need not write the
// inode. Closing a file waits a bounded time for its worker, and the runtime
// bounds a shutdown as a whole (see SystemRuntime::on_shutdown_signal), so a
// stuck disk cannot hang it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "bank/io.hpp"
#include "system_runtime.hpp"

namespace dst_demo {

// Shared by a disk's files and their workers; read from any thread.
struct DiskCounters {
  std::atomic<int> abandoned_workers{0};
  std::atomic<int> syncs_in_progress{0};  // fdatasyncs started and not returned, on the loop or a worker.
  std::atomic<std::uint64_t> batches_on_loop{0};    // Batches of jobs the loop did itself...
  std::atomic<std::uint64_t> batches_on_worker{0};  // ...and those it handed to a worker.
};

class PosixDisk final : public bank::Disk {
 public:
  // How long closing a file waits for its worker before abandoning it.
  static constexpr std::chrono::milliseconds worker_stop_bound{2'000};

  // Precondition: data_dir exists.
  PosixDisk(std::string data_dir, Poster& poster) : data_dir_(std::move(data_dir)), poster_(poster) {}
  bank::Result<bank::OpenedFile> open(const std::string& name) override;
  bank::IoStatus sync_directory() override;
  // Fsyncs the data directory's parent and every ancestor above it (a start
  // that created them may have crashed before syncing them). An ancestor
  // this process may not open, or whose file system cannot sync (read-only,
  // or no directory sync at all), is passed over: nothing was created there.
  bank::IoStatus sync_directory_in_parent() override;
  // Files closed while their worker was stuck in the disk (see ~PosixFile):
  // the process should then end without waiting for those threads.
  int abandoned_workers() const { return counters_->abandoned_workers; }
  // Its counters, which outlive it while someone holds them (any thread may read them).
  std::shared_ptr<const DiskCounters> counters() const { return counters_; }

 private:
  std::string data_dir_;
  Poster& poster_;
  std::shared_ptr<DiskCounters> counters_ = std::make_shared<DiskCounters>();
};

}  // namespace dst_demo
