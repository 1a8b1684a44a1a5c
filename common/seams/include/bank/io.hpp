#pragma once
// The seams between the bank and the world. BankServer is written once against
// these interfaces; server/ implements them with Asio, the system clock and
// POSIX files, simulator/ with a seeded simulated world.
//
// Contract shared by every implementation:
// - A completion callback is never run inline from the call that started the
//   operation; it runs later, from the event loop. Code therefore behaves the
//   same in both worlds.
// - Destroying an object (a Connection, Listener, DiskFile) cancels what it
//   had pending: no callback of it runs afterwards.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bank/result.hpp"

namespace bank {

// Wall-clock and monotonic time, in milliseconds. Wall time is since the Unix
// epoch and may step in either direction; monotonic time never decreases.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t realtime_ms() const = 0;
  virtual std::int64_t monotonic_ms() const = 0;
};

using TimerId = std::uint64_t;

class Timers {
 public:
  virtual ~Timers() = default;
  // Runs callback once, delay_ms of monotonic time from now. Never inline.
  virtual TimerId start_timer(std::int64_t delay_ms, std::function<void()> callback) = 0;
  // Cancelling a timer that already fired or was cancelled does nothing.
  virtual void cancel_timer(TimerId id) = 0;
};

enum class CloseReason { peer_closed, reset, local_close, timed_out };
std::string_view describe(CloseReason reason);

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_data(std::string_view bytes) = 0;
  // Some queued bytes left; send_queued_bytes() went down.
  virtual void on_sent() = 0;
  // The peer sends nothing more (it shut its sending side): every byte it sent
  // has been delivered. The connection still sends, until the handler closes
  // it or the peer resets it; on_closed follows either way.
  virtual void on_input_ended() = 0;
  // The last call a handler gets from this connection. The handler may destroy
  // the Connection from inside this call.
  virtual void on_closed(CloseReason reason) = 0;
};

// One byte stream. Bytes sent arrive in order, in chunks of any size.
class Connection {
 public:
  virtual ~Connection() = default;
  // Starts delivering events to handler, which must outlive the connection or
  // be detached by destroying it.
  virtual void start(ConnectionHandler* handler) = 0;
  // Sends head, then tail, as one write: a frame's text and its NUL go out
  // together with no copy made to join them.
  virtual void send(std::string_view head, std::string_view tail) = 0;
  void send(std::string_view bytes) { send(bytes, {}); }
  virtual std::size_t send_queued_bytes() const = 0;
  // While paused, no on_data arrives; bytes wait in the transport.
  virtual void pause_reading() = 0;
  virtual void resume_reading() = 0;
  // A half-close: sends what is queued, then nothing more; the peer's handler
  // gets on_input_ended once it has read it all. This side still reads until
  // on_closed (the peer closes in its turn, or resets).
  virtual void shutdown_send() = 0;
  // Graceful: sends what is queued, then closes; on_closed(local_close) follows.
  virtual void close() = 0;
  virtual std::string peer_name() const = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;  // Stops accepting.
  virtual std::uint16_t port() const = 0;
};

using AcceptCallback = std::function<void(std::unique_ptr<Connection>)>;

class Network {
 public:
  virtual ~Network() = default;
  // Port 0 picks a free port; Listener::port() tells which.
  virtual Result<std::unique_ptr<Listener>> listen(const std::string& address, std::uint16_t port,
                                                   AcceptCallback on_accept) = 0;
};

// An I/O error from the disk: 0 means success, otherwise an errno value
// (EIO, ENOSPC, ...).
struct IoStatus {
  int error_code = 0;
  bool ok() const { return error_code == 0; }
};
std::string describe(IoStatus status);

using IoCallback = std::function<void(IoStatus)>;

// An append-only file. Operations complete in the order they were issued.
class DiskFile {
 public:
  virtual ~DiskFile() = default;
  virtual void append(std::string bytes, IoCallback done) = 0;
  // Makes every completed append durable. After a failed sync, Linux may
  // drop the failed bytes or keep them readable, and a later sync may report
  // success without writing them: nothing that a failed sync covered can be
  // trusted again.
  virtual void sync(IoCallback done) = 0;
  // Precondition: no append or sync in flight. Makes the whole file as read
  // durable, synchronously (recovery does this before trusting what it read).
  virtual IoStatus sync_now() = 0;
  // Precondition: no append or sync in flight. Cuts the file to size_bytes
  // and makes that durable, synchronously.
  virtual IoStatus truncate_now(std::uint64_t size_bytes) = 0;
  // Precondition: no append or sync in flight, and offset + bytes.size() is
  // within the file. Writes bytes over what is at offset and makes that
  // durable, synchronously (recovery mends a trailer a power loss cut short).
  virtual IoStatus overwrite_now(std::uint64_t offset, std::string_view bytes) = 0;
};

struct OpenedFile {
  std::unique_ptr<DiskFile> file;
  std::string contents;  // The whole file as it was when opened.
};

class Disk {
 public:
  virtual ~Disk() = default;
  // Opens (creating when missing) and reads the whole file, synchronously:
  // only recovery calls this. A file just created is not durable until
  // sync_directory() succeeds: a power loss before then loses it whole.
  virtual Result<OpenedFile> open(const std::string& name) = 0;
  // Makes the directory's entries durable (fsync of the directory).
  virtual IoStatus sync_directory() = 0;
  // Makes the directory's own entry durable (fsync of its parent, and of each
  // ancestor, since an earlier start may have created them and crashed
  // before syncing them): a directory created and never synced in its parent
  // can vanish in a power loss, with every file in it.
  virtual IoStatus sync_directory_in_parent() = 0;
};

}  // namespace bank
