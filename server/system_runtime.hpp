#pragma once
// The real world's side of the seams: one Asio io_context thread providing the
// system clock, timers and TCP. Asio itself stays inside system_runtime.cpp so
// that no other translation unit pays for it.

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

  // Where the runtime reports trouble an operator should hear of (accepts
  // failing for want of descriptors). Unset: nowhere.
  void set_warning_sink(std::function<void(const std::string&)> warn);

  // Calls on_signal(signal number) on the loop for each SIGINT or SIGTERM.
  void on_shutdown_signal(std::function<void(int)> on_signal);
  // Runs the loop until stop() or until no work is left.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dst_demo
