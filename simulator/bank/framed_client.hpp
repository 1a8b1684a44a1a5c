#pragma once
// A client of the bank host that speaks NUL-framed requests: it connects,
// hands every reply frame to its owner, and says when the connection closes.
// The actors that talk to the host (the bankers, their echo and rival
// clients, the health checker, the auditor) are each one of these plus what
// they check.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bank/framing.hpp"
#include "bank/io.hpp"
#include "sim/sim_network.hpp"

namespace bank_sim {

class FramedClient final : public bank::ConnectionHandler {
 public:
  struct Handlers {
    std::function<void()> connected;  // Connected, reading; a request may be sent.
    std::function<void(const std::string& why)> connect_failed;
    // A reply frame. Returns false to stop at it (the owner dropped the
    // connection, or the run failed): the rest of what arrived is never
    // delivered, and the client is not touched again (its owner may be gone).
    std::function<bool(std::string_view frame)> frame;
    std::function<void(bank::CloseReason reason)> closed;  // The connection is gone (not after drop()).
    std::function<void()> too_large;  // A reply longer than the limit: nothing more is read.
  };

  FramedClient(sim::SimNetwork& network, std::string node, std::uint16_t port, std::size_t frame_bytes_max,
               Handlers handlers);
  ~FramedClient() override;
  FramedClient(const FramedClient&) = delete;
  FramedClient& operator=(const FramedClient&) = delete;

  // Connects to the host (`bank` at `port`): nothing while connecting or connected.
  void connect(const std::string& host);
  bool connected() const { return connection_ != nullptr; }
  bool connecting() const { return connecting_; }
  void send(std::string_view bytes) { connection_->send(bytes); }
  // A half-close: nothing more is sent; replies are still read until the server closes.
  void shutdown_send() {
    connection_->shutdown_send();
    sending_shut_ = true;
  }
  // This connection's sending side was shut: what send() hands it goes nowhere
  // (a real socket fails such a send with EPIPE).
  bool sending_shut() const { return sending_shut_; }
  bank::Connection* connection() { return connection_.get(); }
  // While the closed handler runs: the connection that just closed (its
  // network still says what the peer had read of it), else null.
  const bank::Connection* closed_connection() const { return closed_connection_.get(); }
  // Lets the connection go (the peer sees a reset if it has unread bytes);
  // a connect in progress is forgotten.
  void drop();

  void on_data(std::string_view bytes) override;
  void on_sent() override {}
  // The server never shuts only its sending side: its close follows.
  void on_input_ended() override {}
  void on_closed(bank::CloseReason reason) override;

 private:
  sim::SimNetwork& network_;
  std::string node_;
  std::uint16_t port_;
  std::size_t frame_bytes_max_;
  Handlers handlers_;
  std::unique_ptr<bank::Connection> connection_;
  std::unique_ptr<bank::Connection> closed_connection_;  // Kept only while the closed handler runs.
  bank::FrameDecoder decoder_;
  bool connecting_ = false;
  bool sending_shut_ = false;     // Of the current connection.
  std::uint64_t generation_ = 0;  // Of the connect in progress: a dropped one's answer is ignored.
};

}  // namespace bank_sim
