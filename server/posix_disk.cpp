#include "posix_disk.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dst_demo {

namespace {

// Writes bytes at offset; offset moves past what was written, even when an
// error cuts the write short.
bank::IoStatus write_at(int fd, std::string_view bytes, std::uint64_t& offset) {
  while (!bytes.empty()) {
    const ssize_t written = ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (written < 0) {
      if (errno == EINTR) continue;
      return bank::IoStatus{errno};
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
    offset += static_cast<std::uint64_t>(written);
  }
  return {};
}

bank::IoStatus sync_fd(int fd, DiskCounters& counters) {
  ++counters.syncs_in_progress;
  bank::IoStatus status;
  while (::fdatasync(fd) != 0) {
    if (errno == EINTR) continue;
    status = bank::IoStatus{errno};
    break;
  }
  --counters.syncs_in_progress;
  return status;
}

// How long closing a file waits for its worker: a disk stuck in fdatasync
// must not hang shutdown. Past this, the worker is abandoned (it never posts
// again) and the process may exit; nothing it was doing had been answered.
constexpr auto worker_stop_wait = PosixDisk::worker_stop_bound;

// The commit path is a hybrid. When the loop has nothing else to do (no
// socket has input waiting) and the worker has nothing in hand, a batch is
// written and synced on the loop, as Redis does: the loop does not wake the
// worker and the worker does not wake the loop, which on this project's
// machine saved 20 of the 230 us a lone create took. Otherwise the worker
// does it and the loop keeps reading meanwhile. Once a batch takes longer than
// this (a slow disk), every batch goes to the worker until one is quick
// again, so that a slow disk stalls the reads once at most. (A disk that
// never answers stalls the loop in that one batch, as it stalls Redis; the
// runtime still bounds a shutdown.)
constexpr auto slow_batch = std::chrono::milliseconds(10);

// The file is grown ahead of its appends by this much, with zeros written and
// synced: an append then overwrites blocks the file already has, so its
// fdatasync writes the data alone and not the inode too (the file's size is
// unchanged). On this project's machine that took a write and fdatasync from
// 135-175 us to 90-105 us. A clean shutdown cuts the zeros off again; after a
// crash, recovery cuts them as it cuts any tail of zeros.
constexpr std::uint64_t preallocation_bytes = 4 << 20;
constexpr std::size_t zero_chunk_bytes = 64 << 10;

// Grows the file with zeros from allocated to at least need (rounded up to
// preallocation_bytes). A failure is not an error: the append that follows
// then grows the file itself, as it would without preallocation.
void preallocate(int fd, std::uint64_t& allocated, std::uint64_t need) {
  static const std::array<char, zero_chunk_bytes> zeros{};
  const std::uint64_t target = (need + preallocation_bytes - 1) / preallocation_bytes * preallocation_bytes;
  while (allocated < target) {
    const auto chunk = static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), target - allocated));
    if (!write_at(fd, std::string_view(zeros.data(), chunk), allocated).ok()) return;
  }
}

class PosixFile final : public bank::DiskFile {
 public:
  PosixFile(int fd, std::uint64_t size_bytes, Poster& poster, std::shared_ptr<DiskCounters> counters)
      : state_(std::make_shared<State>()),
        alive_(std::make_shared<bool>(true)),
        counters_(std::move(counters)) {
    state_->fd = fd;
    state_->end = size_bytes;
    state_->allocated = size_bytes;
    state_->poster = &poster;
    state_->counters = counters_;
    worker_ = std::thread([state = state_, alive = alive_] { work(*state, alive); });
  }

  ~PosixFile() override {
    *alive_ = false;  // Completions still queued on the loop are dropped.
    std::unique_lock lock(state_->mutex);
    state_->stopping = true;
    state_->wake.notify_one();
    if (state_->stopped_cv.wait_for(lock, worker_stop_wait, [this] { return state_->stopped; })) {
      lock.unlock();
      worker_.join();
      // What was set aside and never written goes; nothing past end was acknowledged.
      if (state_->allocated > state_->end) {
        [[maybe_unused]] const int cut = ::ftruncate(state_->fd, static_cast<off_t>(state_->end));
      }
      ::close(state_->fd);
      return;
    }
    // Stuck in the disk: let it be. Its descriptor stays open until the process ends.
    state_->abandoned = true;
    lock.unlock();
    worker_.detach();
    ++counters_->abandoned_workers;
  }

  void append(std::string bytes, bank::IoCallback done) override {
    enqueue(Job{Job::Kind::append, std::move(bytes), std::move(done)});
  }
  void sync(bank::IoCallback done) override { enqueue(Job{Job::Kind::sync, {}, std::move(done)}); }

  bank::IoStatus sync_now() override { return sync_fd(state_->fd, *counters_); }

  bank::IoStatus truncate_now(std::uint64_t size_bytes) override {
    std::lock_guard lock(state_->mutex);  // The worker is idle (the precondition): this orders the handover.
    if (::ftruncate(state_->fd, static_cast<off_t>(size_bytes)) != 0) return bank::IoStatus{errno};
    state_->end = size_bytes;
    state_->allocated = size_bytes;
    return sync_fd(state_->fd, *counters_);
  }

  bank::IoStatus overwrite_now(std::uint64_t offset, std::string_view bytes) override {
    std::lock_guard lock(state_->mutex);  // The worker is idle (the precondition): this orders the handover.
    BANK_ASSERT(offset + bytes.size() <= state_->end);
    std::uint64_t at = offset;
    if (const bank::IoStatus status = write_at(state_->fd, bytes, at); !status.ok()) return status;
    return sync_fd(state_->fd, *counters_);
  }

 private:
  struct Job {
    enum class Kind { append, sync };
    Kind kind;
    std::string bytes;
    bank::IoCallback done;
  };
  using Done = std::vector<std::pair<bank::IoCallback, bank::IoStatus>>;
  // Shared by the file and its worker, which may outlive it. The worker and
  // the loop never do jobs at the same time: the loop does one only when no
  // job handed to the worker is still without its completion.
  struct State {
    int fd = -1;
    std::uint64_t end = 0;        // Where the next append goes: the bytes appended so far.
    std::uint64_t allocated = 0;  // The file's size: end and the zeros set aside past it.
    Poster* poster = nullptr;
    std::shared_ptr<DiskCounters> counters;
    // Loop thread only.
    std::uint64_t with_worker = 0;  // Jobs handed over whose completions have not run.
    bool disk_slow = false;         // The last batch done took longer than slow_batch.
    std::mutex mutex;
    std::condition_variable wake;
    std::condition_variable stopped_cv;
    std::deque<Job> jobs;
    bool stopping = false;
    bool stopped = false;
    bool abandoned = false;  // The file is gone without waiting: post nothing more.
  };

  // On the loop thread. A job goes to the loop's own queue while one waits
  // there (order), or when it may be done on the loop; else to the worker.
  void enqueue(Job job) {
    if (loop_run_posted_ || (state_->with_worker == 0 && !state_->disk_slow)) {
      loop_jobs_.push_back(std::move(job));
      if (loop_run_posted_) return;
      loop_run_posted_ = true;
      // Behind the handlers already due: this turn's reads have staged what they will.
      state_->poster->post([this, alive = alive_] {
        if (*alive) run_loop_jobs();
      });
      return;
    }
    std::deque<Job> jobs;
    jobs.push_back(std::move(job));
    hand_to_worker(std::move(jobs));
  }

  void hand_to_worker(std::deque<Job> jobs) {
    ++counters_->batches_on_worker;
    state_->with_worker += jobs.size();
    {
      std::lock_guard lock(state_->mutex);
      for (Job& job : jobs) state_->jobs.push_back(std::move(job));
    }
    state_->wake.notify_one();
  }

  // The loop's queue, at the end of a turn: done here when the loop is idle,
  // else handed to the worker.
  void run_loop_jobs() {
    loop_run_posted_ = false;
    std::deque<Job> jobs;
    jobs.swap(loop_jobs_);
    if (jobs.empty()) return;
    if (state_->with_worker != 0 || state_->poster->input_waiting()) {
      hand_to_worker(std::move(jobs));
      return;
    }
    ++counters_->batches_on_loop;
    const auto started = std::chrono::steady_clock::now();
    Done done = perform(*state_, jobs);
    state_->disk_slow = std::chrono::steady_clock::now() - started > slow_batch;
    const std::shared_ptr<bool> alive = alive_;  // A completion may close the file.
    for (auto& [callback, status] : done) {
      if (!*alive) return;
      callback(status);
    }
  }

  // Does jobs in order; their completions, to be called on the loop.
  static Done perform(State& state, std::deque<Job>& jobs) {
    Done done;
    done.reserve(jobs.size());
    for (Job& job : jobs) {
      bank::IoStatus status;
      if (job.kind == Job::Kind::append) {
        if (state.end + job.bytes.size() > state.allocated)
          preallocate(state.fd, state.allocated, state.end + job.bytes.size());
        status = write_at(state.fd, job.bytes, state.end);
        state.allocated = std::max(state.allocated, state.end);
      } else {
        status = sync_fd(state.fd, *state.counters);
      }
      done.emplace_back(std::move(job.done), status);
    }
    return done;
  }

  // Takes every queued job at once and does them in order, then posts their
  // completions back to the loop as one handler: an append and the sync
  // issued right behind it cost one wake-up of the loop, not two.
  static void work(State& state, const std::shared_ptr<bool>& alive) {
    for (;;) {
      std::deque<Job> jobs;
      {
        std::unique_lock lock(state.mutex);
        state.wake.wait(lock, [&state] { return state.stopping || !state.jobs.empty(); });
        if (state.jobs.empty() || state.abandoned) {
          state.stopped = true;
          state.stopped_cv.notify_all();
          return;
        }
        jobs.swap(state.jobs);
      }
      const auto started = std::chrono::steady_clock::now();
      Done done = perform(state, jobs);
      const bool slow = std::chrono::steady_clock::now() - started > slow_batch;
      std::lock_guard lock(state.mutex);
      if (state.abandoned) return;  // The loop may be gone.
      state.poster->post([alive, state = &state, slow, done = std::move(done)]() mutable {
        if (!*alive) return;  // The file is gone, and state may be.
        state->with_worker -= done.size();
        state->disk_slow = slow;
        for (auto& [callback, status] : done) {
          if (!*alive) return;
          callback(status);
        }
      });
    }
  }

  std::shared_ptr<State> state_;
  std::shared_ptr<bool> alive_;  // Read and written on the loop thread only.
  std::shared_ptr<DiskCounters> counters_;
  std::thread worker_;
  // Loop thread only.
  std::deque<Job> loop_jobs_;
  bool loop_run_posted_ = false;
};

std::string errno_text(int error_code) {
  return fmt::format("{} (errno {})", std::strerror(error_code), error_code);
}

}  // namespace

bank::Result<bank::OpenedFile> PosixDisk::open(const std::string& name) {
  const std::string path = data_dir_ + "/" + name;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return bank::Error{fmt::format("cannot open {}: {}", path, errno_text(errno))};
  // One server per data directory: a second one would interleave records.
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error_code = errno;
    ::close(fd);
    if (error_code == EWOULDBLOCK) {
      return bank::Error{fmt::format("{} is locked: another server is using this data directory", path)};
    }
    return bank::Error{fmt::format("cannot lock {}: {}", path, errno_text(error_code))};
  }
  bank::OpenedFile opened;
  // Read at the disk's pace: one buffer the size of the file, not one that grows.
  struct stat info {};
  if (::fstat(fd, &info) == 0 && info.st_size > 0)
    opened.contents.reserve(static_cast<std::size_t>(info.st_size));
  std::array<char, 1 << 16> chunk{};
  off_t offset = 0;
  for (;;) {
    const ssize_t got = ::pread(fd, chunk.data(), chunk.size(), offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error_code = errno;
      ::close(fd);
      return bank::Error{fmt::format("cannot read {}: {}", path, errno_text(error_code))};
    }
    if (got == 0) break;
    opened.contents.append(chunk.data(), static_cast<std::size_t>(got));
    offset += got;
  }
  opened.file = std::make_unique<PosixFile>(fd, opened.contents.size(), poster_, counters_);
  return opened;
}

namespace {

bank::IoStatus fsync_directory(const std::string& path) {
  const int dir_fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return bank::IoStatus{errno};
  bank::IoStatus status;
  while (::fsync(dir_fd) != 0) {
    if (errno == EINTR) continue;
    status = bank::IoStatus{errno};
    break;
  }
  ::close(dir_fd);
  return status;
}

}  // namespace

bank::IoStatus PosixDisk::sync_directory() {
  return fsync_directory(data_dir_);
}

bank::IoStatus PosixDisk::sync_directory_in_parent() {
  std::error_code error;
  std::filesystem::path path = std::filesystem::absolute(data_dir_, error).lexically_normal();
  if (error) return bank::IoStatus{error.value()};
  if (!path.has_filename()) path = path.parent_path();  // "data/" names the directory "data".
  for (int depth = 0; path.has_relative_path(); ++depth) {
    BANK_ASSERT(depth < 4096);  // Each step is one component shorter.
    path = path.parent_path();
    const bank::IoStatus status = fsync_directory(path.string());
    if (status.ok() || status.error_code == EACCES || status.error_code == EROFS ||
        status.error_code == EINVAL) {
      continue;
    }
    return status;
  }
  return {};
}

}  // namespace dst_demo
