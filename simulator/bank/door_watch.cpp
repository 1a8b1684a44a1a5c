#include "door_watch.hpp"

#include <fmt/format.h>

#include <string_view>

#include "bank/session.hpp"

namespace bank_sim {

// One connection as the server sees it: everything passes through, and it
// notes whether the server refused it and whether it has begun closing it.
class DoorWatch::Watched final : public bank::Connection, public bank::ConnectionHandler {
 public:
  Watched(DoorWatch& door, std::unique_ptr<bank::Connection> inner) : door_(door), inner_(std::move(inner)) {
    door_.live_.insert(this);
  }
  ~Watched() override { door_.live_.erase(this); }

  // Connection, as the server uses it.
  void start(bank::ConnectionHandler* handler) override {
    handler_ = handler;
    inner_->start(this);
  }
  using bank::Connection::send;
  void send(std::string_view head, std::string_view tail) override {
    // A frame is its text and a NUL: the first one tells a refusal.
    if (!sent_anything_) refused_ = head.starts_with(bank::notice_too_many_connections);
    sent_anything_ = true;
    inner_->send(head, tail);
  }
  std::size_t send_queued_bytes() const override { return inner_->send_queued_bytes(); }
  void pause_reading() override { inner_->pause_reading(); }
  void resume_reading() override { inner_->resume_reading(); }
  void shutdown_send() override { inner_->shutdown_send(); }
  void close() override {
    closing_ = true;
    inner_->close();
  }
  std::string peer_name() const override { return inner_->peer_name(); }

  // ConnectionHandler, as the network calls it.
  void on_data(std::string_view bytes) override { handler_->on_data(bytes); }
  void on_sent() override { handler_->on_sent(); }
  void on_input_ended() override { handler_->on_input_ended(); }
  void on_closed(bank::CloseReason reason) override {
    ended_ = true;
    DoorWatch& door = door_;  // The server may destroy this connection in on_closed.
    handler_->on_closed(reason);
    if (door.after_close_) door.after_close_();
  }

  bool refused() const { return refused_; }
  bool closing() const { return closing_; }
  bool held() const { return !refused_ && !ended_; }
  bool held_open() const { return held() && !closing_; }

 private:
  DoorWatch& door_;
  std::unique_ptr<bank::Connection> inner_;
  bank::ConnectionHandler* handler_ = nullptr;
  bool sent_anything_ = false;
  bool refused_ = false;
  bool closing_ = false;
  bool ended_ = false;
};

DoorWatch::Counts DoorWatch::counts() const {
  Counts c;
  for (const Watched* w : live_) {
    c.held += w->held() ? 1 : 0;
    c.open += w->held_open() ? 1 : 0;
    c.refused += w->refused() ? 1 : 0;
  }
  return c;
}

bank::Result<std::unique_ptr<bank::Listener>> DoorWatch::listen(const std::string& address,
                                                                std::uint16_t port,
                                                                bank::AcceptCallback on_accept) {
  return inner_.listen(address, port, [this, on_accept = std::move(on_accept)](auto connection) {
    const Counts before = counts();
    auto watched = std::make_unique<Watched>(*this, std::move(connection));
    Watched* seen = watched.get();
    on_accept(std::move(watched));  // The server decides now: serve it, refuse it, or drop it.
    check(live_.contains(seen) ? seen : nullptr, before);
  });
}

void DoorWatch::check(const Watched* watched, const Counts& before) {
  const bool refused = watched == nullptr || watched->refused();
  if (watched == nullptr && before.refused < limit_) {
    // Dropped without a word only past a bound: as many refused connections
    // still being told as the limit.
    fail_(
        fmt::format("a connection was dropped without a word while only {} refused one(s) were being told "
                    "(the bound is {})",
                    before.refused, limit_));
  } else if (refused && before.held < limit_) {
    fail_(fmt::format(
        "a connection was refused ({}) while the server held {} of its {} allowed",
        watched == nullptr ? std::string_view("dropped without a word") : bank::notice_too_many_connections,
        before.held, limit_));
  } else if (refused && watched != nullptr && !watched->closing()) {
    // Told, then closed at once: a refused client must not hold a connection.
    fail_(fmt::format("a connection was refused ({}) and left open", bank::notice_too_many_connections));
  } else if (!refused && before.open >= limit_) {
    fail_(fmt::format("a connection was accepted while the server already held {} open, its limit being {}",
                      before.open, limit_));
  }
}

}  // namespace bank_sim
