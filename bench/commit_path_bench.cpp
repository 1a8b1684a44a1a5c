// The server's commit path, its alternatives measured side by side on this
// machine's disk: how long from the moment the event loop has a batch of
// journal bytes to the moment the loop knows they are durable.
//
//   inline    the loop itself writes and fdatasyncs (as Redis does with
//             appendfsync always): no thread is woken, but the loop serves
//             nothing while the disk works.
//   worker    what dst_demo_server does: the loop hands the batch to a disk
//             thread (mutex and condition variable) and sleeps in epoll_wait;
//             the thread writes, fdatasyncs and wakes the loop with an eventfd.
//   io_uring  the loop submits a write linked to an fdatasync (liburing) and
//             sleeps in epoll_wait on the ring's eventfd: the kernel's own
//             worker does the blocking part.
//
// Each writes a 72-byte record (the size of a create's) into a file grown
// ahead with zeros, as the server's is, and the three take turns in rounds so
// that they share the disk's moods. Prints p50, p99 and the mean per commit.
//
//   build/release/bench/commit_path_bench [--dir DIR] [--commits N]

#include <fcntl.h>
#include <liburing.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t record_bytes = 72;
constexpr off_t file_bytes = 4 << 20;  // Grown ahead with zeros, like the server's journal.
constexpr int rounds = 5;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "commit_path_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int open_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open");
  std::vector<char> zeros(static_cast<std::size_t>(file_bytes), '\0');
  if (::pwrite(fd, zeros.data(), zeros.size(), 0) != file_bytes || ::fdatasync(fd) != 0) die("grow");
  return fd;
}

// Blocks in epoll_wait until the eventfd is readable, then drains it: the
// loop asleep between events, as the server's is.
void wait_for(int epoll_fd, int event_fd) {
  epoll_event ready{};
  while (::epoll_wait(epoll_fd, &ready, 1, -1) != 1) {
    if (errno != EINTR) die("epoll_wait");
  }
  std::uint64_t count = 0;
  if (::read(event_fd, &count, sizeof count) != sizeof count) die("read eventfd");
}

class Worker {
 public:
  explicit Worker(int fd) : fd_(fd), thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  void commit(const char* bytes, off_t offset, int event_fd) {
    {
      std::lock_guard lock(mutex_);
      job_ = Job{bytes, offset, event_fd};
      pending_ = true;
    }
    wake_.notify_one();
  }

 private:
  struct Job {
    const char* bytes;
    off_t offset;
    int event_fd;
  };
  void run() {
    for (;;) {
      Job job{};
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stop_ || pending_; });
        if (stop_) return;
        job = job_;
        pending_ = false;
      }
      if (::pwrite(fd_, job.bytes, record_bytes, job.offset) != record_bytes || ::fdatasync(fd_) != 0)
        die("worker write");
      const std::uint64_t one = 1;
      if (::write(job.event_fd, &one, sizeof one) != sizeof one) die("write eventfd");
    }
  }
  int fd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  Job job_{};
  bool pending_ = false;
  bool stop_ = false;
  std::thread thread_;
};

struct Figures {
  std::vector<double> us;
  void add(Clock::duration d) { us.push_back(std::chrono::duration<double, std::micro>(d).count()); }
  void print(const char* name) {
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (const double u : us) sum += u;
    std::printf("%-9s %6zu commits  p50 %6.1f us  p99 %6.1f us  mean %6.1f us\n", name, us.size(),
                us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)],
                sum / static_cast<double>(us.size()));
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "commit_path_bench: the journal's commit path (inline, a worker thread, io_uring) on this disk",
      "commit_path_bench"};
  std::string dir = ".";
  int commits = 3000;
  app.add_option("--dir", dir, "Directory for the scratch file (on the disk to measure)")
      ->capture_default_str();
  app.add_option("--commits", commits, "Commits per alternative")
      ->check(CLI::Range(rounds, 1'000'000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::string path = dir + "/commit_path_bench.scratch";
  const int fd = open_file(path);
  const int event_fd = ::eventfd(0, EFD_CLOEXEC);
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event interest{};
  interest.events = EPOLLIN;
  if (event_fd < 0 || epoll_fd < 0 || ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &interest) != 0)
    die("eventfd/epoll");
  io_uring ring{};
  if (const int error = io_uring_queue_init(8, &ring, 0); error < 0) {
    errno = -error;
    die("io_uring_queue_init");
  }
  if (const int error = io_uring_register_eventfd(&ring, event_fd); error < 0) {
    errno = -error;
    die("io_uring_register_eventfd");
  }
  Worker worker(fd);

  std::array<char, record_bytes> record{};
  record.fill('r');
  const off_t slots = file_bytes / static_cast<off_t>(record_bytes);
  off_t next = 0;
  const auto offset = [&] { return static_cast<off_t>(next++ % slots) * static_cast<off_t>(record_bytes); };
  Figures inline_figures;
  Figures worker_figures;
  Figures uring_figures;
  const int per_round = commits / rounds;
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < per_round; ++i) {
      const auto start = Clock::now();
      if (::pwrite(fd, record.data(), record.size(), offset()) != record_bytes || ::fdatasync(fd) != 0)
        die("inline write");
      inline_figures.add(Clock::now() - start);
    }
    for (int i = 0; i < per_round; ++i) {
      const auto start = Clock::now();
      worker.commit(record.data(), offset(), event_fd);
      wait_for(epoll_fd, event_fd);
      worker_figures.add(Clock::now() - start);
    }
    for (int i = 0; i < per_round; ++i) {
      const auto start = Clock::now();
      io_uring_sqe* write = io_uring_get_sqe(&ring);
      io_uring_prep_write(write, fd, record.data(), record.size(), static_cast<std::uint64_t>(offset()));
      write->flags |= IOSQE_IO_LINK;  // The sync starts only once the write is done.
      io_uring_sqe* sync = io_uring_get_sqe(&ring);
      io_uring_prep_fsync(sync, fd, IORING_FSYNC_DATASYNC);
      if (io_uring_submit(&ring) != 2) die("io_uring_submit");
      int completed = 0;
      while (completed < 2) {
        wait_for(epoll_fd, event_fd);
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
          if (cqe->res < 0) {
            errno = -cqe->res;
            die("io_uring completion");
          }
          io_uring_cqe_seen(&ring, cqe);
          ++completed;
        }
      }
      uring_figures.add(Clock::now() - start);
    }
  }
  std::printf("a %zu-byte record written and fdatasynced, %d rounds taking turns, file in %s\n", record_bytes,
              rounds, dir.c_str());
  inline_figures.print("inline");
  worker_figures.print("worker");
  uring_figures.print("io_uring");
  io_uring_queue_exit(&ring);
  ::close(fd);
  ::unlink(path.c_str());
  return 0;
}
