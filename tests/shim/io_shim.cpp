// An LD_PRELOAD shim for tests of the real server binary. It records, in the
// order they happen, the journal's writes and fdatasyncs and every send to a
// socket, into the file named by BANK_SHIM_LOG; and it can make the journal's
// fdatasync fail with EIO (BANK_SHIM_FAIL_SYNC_AFTER_WRITES=N) or never return
// (BANK_SHIM_HANG_SYNC_AFTER_WRITES=N) once the journal has taken N writes;
// and it can make every journal fdatasync take BANK_SHIM_SLOW_SYNC_MS longer.
//
// Log lines:  W <bytes>            a write to the journal (after it returned)
//             Z <bytes>            zeros written to grow the journal ahead of its appends (not counted)
//             S <writes>           an fdatasync returned, covering the first <writes> journal writes
//             F <writes> | H <writes>   an fdatasync failed / hangs
//             R <fd> <payload>     a send to a socket (before it is made); NUL shown as '|'

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

using WriteFn = ssize_t (*)(int, const void*, size_t);
using PwriteFn = ssize_t (*)(int, const void*, size_t, off_t);
using SendFn = ssize_t (*)(int, const void*, size_t, int);
using SendmsgFn = ssize_t (*)(int, const msghdr*, int);
using WritevFn = ssize_t (*)(int, const iovec*, int);
using SyncFn = int (*)(int);

template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

std::atomic<long> journal_writes{0};

int log_fd() {
  static const int fd = [] {
    const char* path = std::getenv("BANK_SHIM_LOG");
    return path == nullptr ? -1 : ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  }();
  return fd;
}

long threshold(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? -1 : std::atol(value);
}

// One write(2) per line, to a file opened O_APPEND: lines from the loop and
// the disk worker land whole and in the order they were made.
void record(const std::string& line) {
  static const WriteFn real_write = next<WriteFn>("write");
  if (log_fd() >= 0) real_write(log_fd(), line.data(), line.size());
}

bool is_journal(int fd) {
  if (fd < 0 || fd == log_fd()) return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[4096];
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return false;
  const std::string_view path(target, static_cast<std::size_t>(n));
  return path.ends_with("/bank.journal");
}

bool is_socket(int fd) {
  struct stat info {};
  return fd >= 0 && ::fstat(fd, &info) == 0 && S_ISSOCK(info.st_mode);
}

void record_send(int fd, std::string_view bytes) {
  std::string line = "R " + std::to_string(fd) + " ";
  for (const char c : bytes) line.push_back(c == '\0' ? '|' : c == '\n' ? '~' : c);
  line.push_back('\n');
  record(line);
}

}  // namespace

extern "C" ssize_t write(int fd, const void* buffer, size_t count) {
  static const WriteFn real = next<WriteFn>("write");
  if (is_journal(fd)) {
    const ssize_t written = real(fd, buffer, count);
    if (written > 0) {
      ++journal_writes;
      record("W " + std::to_string(written) + "\n");
    }
    return written;
  }
  if (is_socket(fd)) record_send(fd, std::string_view(static_cast<const char*>(buffer), count));
  return real(fd, buffer, count);
}

namespace {
ssize_t journal_pwrite(PwriteFn real, int fd, const void* buffer, size_t count, off_t offset) {
  if (!is_journal(fd)) return real(fd, buffer, count, offset);
  const auto* bytes = static_cast<const char*>(buffer);
  const bool zeros = count > 0 && bytes[0] == '\0' && std::memcmp(bytes, bytes + 1, count - 1) == 0;
  const ssize_t written = real(fd, buffer, count, offset);
  if (written > 0) {
    if (!zeros) ++journal_writes;
    record((zeros ? "Z " : "W ") + std::to_string(written) + "\n");
  }
  return written;
}
}  // namespace

extern "C" ssize_t pwrite(int fd, const void* buffer, size_t count, off_t offset) {
  static const PwriteFn real = next<PwriteFn>("pwrite");
  return journal_pwrite(real, fd, buffer, count, offset);
}

extern "C" ssize_t pwrite64(int fd, const void* buffer, size_t count, off_t offset) {
  static const PwriteFn real = next<PwriteFn>("pwrite64");
  return journal_pwrite(real, fd, buffer, count, offset);
}

extern "C" ssize_t send(int fd, const void* buffer, size_t count, int flags) {
  static const SendFn real = next<SendFn>("send");
  record_send(fd, std::string_view(static_cast<const char*>(buffer), count));
  return real(fd, buffer, count, flags);
}

extern "C" ssize_t sendmsg(int fd, const msghdr* message, int flags) {
  static const SendmsgFn real = next<SendmsgFn>("sendmsg");
  std::string bytes;
  for (std::size_t i = 0; i < message->msg_iovlen; ++i)
    bytes.append(static_cast<const char*>(message->msg_iov[i].iov_base), message->msg_iov[i].iov_len);
  record_send(fd, bytes);
  return real(fd, message, flags);
}

extern "C" ssize_t writev(int fd, const iovec* vectors, int count) {
  static const WritevFn real = next<WritevFn>("writev");
  if (is_socket(fd)) {
    std::string bytes;
    for (int i = 0; i < count; ++i)
      bytes.append(static_cast<const char*>(vectors[i].iov_base), vectors[i].iov_len);
    record_send(fd, bytes);
  }
  return real(fd, vectors, count);
}

extern "C" int fdatasync(int fd) {
  static const SyncFn real = next<SyncFn>("fdatasync");
  if (!is_journal(fd)) return real(fd);
  const long writes = journal_writes.load();
  const long fail_after = threshold("BANK_SHIM_FAIL_SYNC_AFTER_WRITES");
  if (fail_after >= 0 && writes > fail_after) {
    record("F " + std::to_string(writes) + "\n");
    errno = EIO;
    return -1;
  }
  const long hang_after = threshold("BANK_SHIM_HANG_SYNC_AFTER_WRITES");
  if (hang_after >= 0 && writes > hang_after) {
    record("H " + std::to_string(writes) + "\n");
    for (;;) ::pause();  // A disk that never answers.
  }
  if (const long slow_ms = threshold("BANK_SHIM_SLOW_SYNC_MS"); slow_ms > 0) {
    const timespec pause{slow_ms / 1000, (slow_ms % 1000) * 1'000'000};
    ::nanosleep(&pause, nullptr);  // A slow disk, not a race being waited out.
  }
  const int result = real(fd);
  if (result == 0) record("S " + std::to_string(writes) + "\n");
  return result;
}
