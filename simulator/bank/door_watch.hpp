#pragma once
// Checks the server's connection limit at every accept. It stands between the
// host's server and the simulated network, sees each connection the server is
// handed, and what the server does with it at once: a connection is refused
// ("ERROR too many connections" and closed at once, or dropped without a
// word) only when the server already holds `limit` connections it accepted,
// and accepted only when fewer than `limit` of those are open and not being
// closed by the server.

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "bank/io.hpp"

namespace bank_sim {

class DoorWatch final : public bank::Network {
 public:
  // `fail` is called with the evidence when the limit is broken.
  DoorWatch(bank::Network& inner, std::size_t limit, std::function<void(std::string)> fail)
      : inner_(inner), limit_(limit), fail_(std::move(fail)) {}
  DoorWatch(const DoorWatch&) = delete;
  DoorWatch& operator=(const DoorWatch&) = delete;

  bank::Result<std::unique_ptr<bank::Listener>> listen(const std::string& address, std::uint16_t port,
                                                       bank::AcceptCallback on_accept) override;
  // Connections the server holds (accepted or refused, not yet destroyed).
  std::size_t connections_held() const { return live_.size(); }
  // Of those, the ones the server accepted and has not begun to close.
  std::size_t connections_open() const { return counts().open; }
  // Called once the server has handled a connection's end (on_closed returned).
  void on_server_saw_close(std::function<void()> callback) { after_close_ = std::move(callback); }

 private:
  class Watched;
  // The server's connections by state: accepted and not ended; of those, not
  // being closed by the server; refused and still being told.
  struct Counts {
    std::size_t held = 0;
    std::size_t open = 0;
    std::size_t refused = 0;
  };
  Counts counts() const;
  // What the server did with `watched` (null: dropped it), given the counts before.
  void check(const Watched* watched, const Counts& before);

  bank::Network& inner_;
  std::size_t limit_;
  std::function<void(std::string)> fail_;
  std::function<void()> after_close_;
  std::set<Watched*>
      live_;  // The server's connections that still exist; only looked up, never iterated for output.
};

}  // namespace bank_sim
