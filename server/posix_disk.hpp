#pragma once
// Disk over POSIX files in one directory. Appends and fdatasync run on one
// worker thread per file, in issue order, so the event loop never blocks on
// the disk; completions are posted back to the loop. A file is grown ahead of
// its appends with zeros, so that an append's fdatasync need not write the
// inode. Closing a file waits a bounded time for its worker, so a stuck disk
// cannot hang shutdown.

#include <atomic>
#include <memory>
#include <string>

#include "bank/io.hpp"
#include "system_runtime.hpp"

namespace dst_demo {

class PosixDisk final : public bank::Disk {
 public:
  // Precondition: data_dir exists.
  PosixDisk(std::string data_dir, Poster& poster) : data_dir_(std::move(data_dir)), poster_(poster) {}
  bank::Result<bank::OpenedFile> open(const std::string& name) override;
  bank::IoStatus sync_directory() override;
  // Files closed while their worker was stuck in the disk (see ~PosixFile):
  // the process should then end without waiting for those threads.
  int abandoned_workers() const { return *abandoned_workers_; }

 private:
  std::string data_dir_;
  Poster& poster_;
  std::shared_ptr<std::atomic<int>> abandoned_workers_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace dst_demo
