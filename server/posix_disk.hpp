#pragma once
// Disk over POSIX files in one directory. Appends and fdatasync run on one
// worker thread per file, in issue order, so the event loop never blocks on
// the disk; completions are posted back to the loop.

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

 private:
  std::string data_dir_;
  Poster& poster_;
};

}  // namespace dst_demo
