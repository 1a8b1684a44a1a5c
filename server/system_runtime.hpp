#pragma once
// The real world's side of the seams: one Asio io_context thread providing the
// system clock, timers and TCP. Asio itself stays inside system_runtime.cpp so
// that no other translation unit pays for it.

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>

#include "bank/io.hpp"

namespace dst_demo {

// Runs a function on the event loop thread. Safe to call from any thread.
class Poster {
 public:
  virtual ~Poster() = default;
  virtual void post(std::function<void()> work) = 0;
  // On the loop thread: whether a connection has input waiting to be read now
  // (the loop has more to do than what is already due).
  virtual bool input_waiting() { return false; }
};

class SystemRuntime final : public bank::Clock, public bank::Timers, public bank::Network, public Poster {
 public:
  SystemRuntime();
  ~SystemRuntime() override;

  std::int64_t realtime_ms() const override;
  std::int64_t monotonic_ms() const override;
  bank::TimerId start_timer(std::int64_t delay_ms, std::function<void()> callback) override;
  void cancel_timer(bank::TimerId id) override;
  bank::Result<std::unique_ptr<bank::Listener>> listen(const std::string& address, std::uint16_t port,
                                                       bank::AcceptCallback on_accept) override;
  void post(std::function<void()> work) override;
  bool input_waiting() override;

  // Where the runtime reports trouble an operator should hear of (accepts
  // failing for want of descriptors). Unset: nowhere.
  void set_warning_sink(std::function<void(const std::string&)> warn);

  // SIGINT and SIGTERM are taken by a thread of the runtime's own, which calls
  // on_signal(signal number) on the loop for each. From the first one on, the
  // process has `bound` to end: past it, that thread calls on_overdue() and
  // exits the process with status 1, so that a loop stuck in the disk (or
  // anywhere) cannot hang a shutdown. Call it before any other thread starts:
  // the two signals are blocked in the calling thread, and every thread
  // started after inherits that (only the runtime's thread takes them).
  void on_shutdown_signal(std::function<void(int)> on_signal, std::chrono::milliseconds bound,
                          std::function<void()> on_overdue);
  // Runs the loop until stop() or until no work is left.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dst_demo
