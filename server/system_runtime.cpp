#include "system_runtime.hpp"

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <map>

namespace dst_demo {

namespace {

using asio::ip::tcp;

// How long a closing connection keeps draining what its peer still sends, so
// that closing with unread input does not reset the connection and destroy the
// last reply before the peer reads it.
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::size_t read_chunk_bytes = 64 * 1024;

std::string endpoint_name(const tcp::socket& socket) {
  asio::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// The state of one connection, shared with its pending operations so that it
// outlives them; the Connection facade detaches it when destroyed.
struct ConnectionState : std::enable_shared_from_this<ConnectionState> {
  explicit ConnectionState(tcp::socket s) : socket(std::move(s)), linger_timer(socket.get_executor()) {
    peer = endpoint_name(socket);
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
  }

  tcp::socket socket;
  asio::steady_timer linger_timer;
  bank::ConnectionHandler* handler = nullptr;
  std::unique_ptr<std::array<char, read_chunk_bytes>> read_buffer = std::make_unique<std::array<char, read_chunk_bytes>>();
  std::string queued;
  std::string writing;
  std::string peer;
  bool started = false;
  bool read_in_flight = false;
  bool paused = false;
  bool write_in_flight = false;
  bool close_requested = false;
  bool finished = false;  // on_closed delivered, or the facade was destroyed.

  void start_read() {
    if (finished || close_requested || paused || read_in_flight || !started) return;
    read_in_flight = true;
    socket.async_read_some(asio::buffer(*read_buffer),
                           [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                             self->on_read(ec, n);
                           });
  }

  void on_read(const asio::error_code& ec, std::size_t bytes) {
    read_in_flight = false;
    if (finished) return;
    if (ec) {
      finish(ec == asio::error::eof ? bank::CloseReason::peer_closed : bank::CloseReason::reset);
      return;
    }
    auto self = shared_from_this();  // on_data may destroy the facade.
    if (handler != nullptr && !close_requested) handler->on_data(std::string_view(read_buffer->data(), bytes));
    start_read();
  }

  void send(std::string_view bytes) {
    if (finished || close_requested) return;
    queued.append(bytes);
    if (!write_in_flight) start_write();
  }

  void start_write() {
    writing.swap(queued);
    queued.clear();
    write_in_flight = true;
    asio::async_write(socket, asio::buffer(writing),
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(const asio::error_code& ec) {
    write_in_flight = false;
    if (finished) return;
    if (ec) {
      finish(bank::CloseReason::reset);
      return;
    }
    writing.clear();
    if (!queued.empty()) {
      start_write();
    } else if (close_requested) {
      begin_linger();
      return;
    }
    auto self = shared_from_this();
    if (handler != nullptr) handler->on_sent();
  }

  void close() {
    if (finished || close_requested) return;
    close_requested = true;
    if (!write_in_flight && queued.empty()) {
      // Never inline: on_closed must come from the loop.
      asio::post(socket.get_executor(), [self = shared_from_this()] { self->begin_linger(); });
    }
  }

  // Half-close, then drain the peer's input until it closes or linger_timeout.
  void begin_linger() {
    if (finished) return;
    asio::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    linger_timer.expires_after(linger_timeout);
    linger_timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->finish(bank::CloseReason::local_close);
    });
    drain();
  }

  void drain() {
    socket.async_read_some(asio::buffer(*read_buffer),
                           [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                             if (self->finished) return;
                             if (ec) {
                               self->finish(bank::CloseReason::local_close);
                             } else {
                               self->drain();
                             }
                           });
  }

  void finish(bank::CloseReason reason) {
    if (finished) return;
    finished = true;
    asio::error_code ignored;
    linger_timer.cancel();
    socket.close(ignored);
    bank::ConnectionHandler* h = handler;
    handler = nullptr;
    if (h != nullptr) h->on_closed(reason);  // May destroy the facade.
  }

  void detach() {
    handler = nullptr;
    if (finished) return;
    finished = true;
    asio::error_code ignored;
    linger_timer.cancel();
    socket.close(ignored);
  }
};

class AsioConnection final : public bank::Connection {
 public:
  explicit AsioConnection(std::shared_ptr<ConnectionState> state) : state_(std::move(state)) {}
  ~AsioConnection() override { state_->detach(); }

  void start(bank::ConnectionHandler* handler) override {
    state_->handler = handler;
    state_->started = true;
    state_->start_read();
  }
  void send(std::string_view bytes) override { state_->send(bytes); }
  std::size_t send_queued_bytes() const override { return state_->queued.size() + state_->writing.size(); }
  void pause_reading() override { state_->paused = true; }
  void resume_reading() override {
    state_->paused = false;
    state_->start_read();
  }
  void close() override { state_->close(); }
  std::string peer_name() const override { return state_->peer; }

 private:
  std::shared_ptr<ConnectionState> state_;
};

struct AcceptorState : std::enable_shared_from_this<AcceptorState> {
  explicit AcceptorState(asio::io_context& io) : acceptor(io) {}
  tcp::acceptor acceptor;
  bank::AcceptCallback on_accept;
  bool closed = false;

  void accept_next() {
    acceptor.async_accept([self = shared_from_this()](const asio::error_code& ec, tcp::socket socket) {
      if (self->closed) return;
      if (!ec) {
        self->on_accept(std::make_unique<AsioConnection>(std::make_shared<ConnectionState>(std::move(socket))));
      }
      // Errors such as EMFILE are transient: keep accepting.
      if (!self->closed) self->accept_next();
    });
  }
};

class AsioListener final : public bank::Listener {
 public:
  explicit AsioListener(std::shared_ptr<AcceptorState> state) : state_(std::move(state)) {}
  ~AsioListener() override {
    state_->closed = true;
    asio::error_code ignored;
    state_->acceptor.close(ignored);
  }
  std::uint16_t port() const override {
    asio::error_code ec;
    return state_->acceptor.local_endpoint(ec).port();
  }

 private:
  std::shared_ptr<AcceptorState> state_;
};

}  // namespace

struct SystemRuntime::Impl {
  asio::io_context io{1};
  asio::signal_set signals{io};
  std::map<bank::TimerId, std::unique_ptr<asio::steady_timer>> timers;
  bank::TimerId timer_id_next = 1;
};

SystemRuntime::SystemRuntime() : impl_(std::make_unique<Impl>()) {}
SystemRuntime::~SystemRuntime() = default;

std::int64_t SystemRuntime::realtime_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemRuntime::monotonic_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bank::TimerId SystemRuntime::start_timer(std::int64_t delay_ms, std::function<void()> callback) {
  const bank::TimerId id = impl_->timer_id_next++;
  auto timer = std::make_unique<asio::steady_timer>(impl_->io, std::chrono::milliseconds(delay_ms));
  timer->async_wait([this, id, callback = std::move(callback)](const asio::error_code& ec) {
    if (ec) return;
    auto it = impl_->timers.find(id);
    if (it == impl_->timers.end()) return;
    impl_->timers.erase(it);
    callback();
  });
  impl_->timers.emplace(id, std::move(timer));
  return id;
}

void SystemRuntime::cancel_timer(bank::TimerId id) {
  auto it = impl_->timers.find(id);
  if (it == impl_->timers.end()) return;
  it->second->cancel();
  impl_->timers.erase(it);
}

bank::Result<std::unique_ptr<bank::Listener>> SystemRuntime::listen(const std::string& address, std::uint16_t port,
                                                                    bank::AcceptCallback on_accept) {
  asio::error_code ec;
  tcp::endpoint endpoint;
  const auto ip = asio::ip::make_address(address, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, port);
  } else {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(address, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty()) return bank::Error{fmt::format("cannot resolve address '{}': {}", address, ec.message())};
    endpoint = results.begin()->endpoint();
  }
  auto state = std::make_shared<AcceptorState>(impl_->io);
  state->on_accept = std::move(on_accept);
  auto& acceptor = state->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) return bank::Error{ec.message()};
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return bank::Error{ec.message()};
  if (acceptor.bind(endpoint, ec); ec) return bank::Error{ec.message()};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return bank::Error{ec.message()};
  state->accept_next();
  return std::unique_ptr<bank::Listener>(std::make_unique<AsioListener>(std::move(state)));
}

void SystemRuntime::post(std::function<void()> work) { asio::post(impl_->io, std::move(work)); }

void SystemRuntime::on_shutdown_signal(std::function<void(int)> on_signal) {
  impl_->signals.add(SIGINT);
  impl_->signals.add(SIGTERM);
  struct Waiter {
    Impl* impl;
    std::function<void(int)> on_signal;
    void operator()(const asio::error_code& ec, int signal_number) {
      if (ec) return;
      on_signal(signal_number);
      impl->signals.async_wait(Waiter{impl, on_signal});
    }
  };
  impl_->signals.async_wait(Waiter{impl_.get(), std::move(on_signal)});
}

void SystemRuntime::run() {
  impl_->io.restart();
  impl_->io.run();
}

void SystemRuntime::stop() {
  asio::error_code ignored;
  impl_->signals.cancel(ignored);
  for (auto& [id, timer] : impl_->timers) timer->cancel();
  impl_->timers.clear();
  impl_->io.stop();
}

}  // namespace dst_demo
