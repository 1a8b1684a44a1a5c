#include "system_runtime.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bank/assert.hpp"
#include "bank/framing.hpp"
#include "bank/session.hpp"

namespace dst_demo {

namespace {

using asio::ip::tcp;

// How long a closing connection keeps draining what its peer still sends, so
// that closing with unread input does not reset the connection and destroy the
// last reply before the peer reads it.
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::size_t read_chunk_bytes = 64 * 1024;
// Readiness reports taken from the connections' epoll set in one turn.
constexpr int ready_batch_max = 256;
// After an accept failed for want of descriptors, wait this long before the next.
constexpr auto accept_backoff = std::chrono::milliseconds(100);
// Out-of-descriptor warnings: at most one in this long.
constexpr auto descriptor_warning_interval = std::chrono::seconds(10);

struct ConnectionState;

// The connections' reads, as Redis does them: every connection's socket is in
// one epoll set of ours, level-triggered, registered once; Asio waits for that
// set, and one turn reads every connection it reports ready into one shared
// buffer. A request costs its recv and nothing else (Asio would re-arm a
// socket's registration, or try a read that finds nothing, for every one).
// A paused connection leaves the set's interest (reading stops at once, and
// its bytes wait in the socket); an idle one holds no buffer of its own.
struct Readiness : std::enable_shared_from_this<Readiness> {
  explicit Readiness(asio::io_context& io) : set(io) {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    set.assign(fd);
  }
  asio::posix::stream_descriptor set;
  std::array<char, read_chunk_bytes> buffer{};
  std::unordered_map<std::uint64_t, std::weak_ptr<ConnectionState>> watched;
  std::uint64_t watch_id_next = 1;
  bool waiting = false;
  std::array<epoll_event, ready_batch_max> ready{};
  // While a turn reads its connections, the replies they produce wait here
  // and go out when the reads are done: one write per connection, and no trip
  // through Asio's queue (which would cost the loop another look at its fds).
  bool dispatching = false;
  std::vector<std::shared_ptr<ConnectionState>> to_flush;

  // Adds a socket, reading; returns its watch id (0 if the kernel refused).
  std::uint64_t watch(int fd, std::weak_ptr<ConnectionState> state) {
    const std::uint64_t id = watch_id_next++;
    if (!interest(fd, id, true)) return 0;
    watched.emplace(id, std::move(state));
    wait();
    return id;
  }
  // In the set while reading, out of it otherwise: a socket left in the set
  // with no interest would still report a hang-up, again and again.
  bool interest(int fd, std::uint64_t id, bool reading) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = id;
    return ::epoll_ctl(set.native_handle(), reading ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd, &event) == 0;
  }
  // The socket is closed (which takes it out of the set) or about to be.
  void forget(std::uint64_t id) { watched.erase(id); }

  void wait() {
    if (waiting) return;
    waiting = true;
    set.async_wait(asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const asio::error_code& ec) {
                     self->waiting = false;
                     if (!ec) self->dispatch();
                   });
  }
  void dispatch();
};

std::string endpoint_name(const tcp::socket& socket) {
  asio::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "unknown peer";
  return fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
}

// The state of one connection, shared with its pending operations so that it
// outlives them; the Connection facade detaches it when destroyed.
struct ConnectionState : std::enable_shared_from_this<ConnectionState> {
  ConnectionState(tcp::socket s, std::shared_ptr<Readiness> reads)
      : socket(std::move(s)), linger_timer(socket.get_executor()), readiness(std::move(reads)) {
    peer = endpoint_name(socket);
    asio::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.non_blocking(true, ignored);
  }

  tcp::socket socket;
  asio::steady_timer linger_timer;
  bank::ConnectionHandler* handler = nullptr;
  std::shared_ptr<Readiness> readiness;
  std::uint64_t watch_id = 0;  // In readiness's set (0: not yet, or refused).
  bool reading = false;        // The set reports this socket's input.
  std::string queued;
  std::string writing;
  std::string peer;
  bool started = false;
  bool input_ended = false;  // on_input_ended delivered: nothing more to read.
  bool paused = false;
  bool write_in_flight = false;
  bool flush_posted = false;
  bool close_requested = false;
  bool send_shut = false;  // shutdown_send(): the socket's sending side shuts once queued is written.
  bool finished = false;   // on_closed delivered, or the facade was destroyed.

  // Reading: see Readiness. Nothing is read while paused, closing or done.
  void start_read() {
    if (finished || close_requested || paused || !started || input_ended || reading) return;
    if (watch_id == 0) {
      watch_id = readiness->watch(socket.native_handle(), weak_from_this());
      if (watch_id == 0) {
        finish(bank::CloseReason::reset);
        return;
      }
    } else if (!readiness->interest(socket.native_handle(), watch_id, true)) {
      finish(bank::CloseReason::reset);
      return;
    }
    reading = true;
  }
  void stop_reading() {
    if (!reading) return;
    reading = false;
    readiness->interest(socket.native_handle(), watch_id, false);
  }

  // The set says the socket has input (or an end, or an error).
  void on_ready() {
    if (finished || close_requested || paused || input_ended) {
      stop_reading();
      return;
    }
    asio::error_code read_ec;
    const std::size_t bytes = read_now(read_ec);
    if (read_ec == asio::error::eof) {
      // The peer shut its sending side (or closed): every byte it sent was
      // delivered; the replies to them still go out, and the handler closes.
      stop_reading();
      input_ended = true;
      auto self = shared_from_this();
      if (handler != nullptr) handler->on_input_ended();
      return;
    }
    if (read_ec) {
      finish(bank::CloseReason::reset);
      return;
    }
    if (bytes == 0) return;          // Reported ready, yet nothing there after all.
    auto self = shared_from_this();  // on_data may destroy the facade.
    if (handler != nullptr) handler->on_data(std::string_view(readiness->buffer.data(), bytes));
  }

  void pause() {
    paused = true;
    stop_reading();
  }
  void resume() {
    paused = false;
    start_read();  // What waits in the socket comes with the set's next report, from the loop.
  }

  // Reads what the socket holds now into the shared buffer: the bytes read,
  // 0 (with no error) when nothing was there after all.
  std::size_t read_now(asio::error_code& ec) {
    const std::size_t bytes = socket.read_some(asio::buffer(readiness->buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec.clear();
    return bytes;
  }

  // Replies are gathered and sent once per turn of the loop: the first send
  // of a turn posts a flush behind the handlers already due (the reads of
  // this turn, a sync's completion), so a connection that pipelines gets all
  // its replies in one write.
  void send(std::string_view head, std::string_view tail) {
    if (finished || close_requested || send_shut) return;
    queued.append(head);
    queued.append(tail);
    if (write_in_flight || flush_posted) return;
    flush_posted = true;
    if (readiness->dispatching) {
      readiness->to_flush.push_back(shared_from_this());
      return;
    }
    asio::post(socket.get_executor(), [self = shared_from_this()] { self->posted_flush(); });
  }

  // The flush send() asked for (posted, or held for the end of a turn's reads).
  void posted_flush() {
    flush_posted = false;
    flush();
  }

  void flush() {
    if (finished || write_in_flight) return;
    const std::size_t before = queued.size();
    if (write_queued() && queued.size() < before && handler != nullptr) {
      auto self = shared_from_this();
      handler->on_sent();
    }
  }

  // Writes what is queued straight to the socket; only what the socket does
  // not take at once waits for writability. False when the connection closed
  // or began to linger (no on_sent then).
  bool write_queued() {
    std::size_t sent = 0;
    while (sent < queued.size()) {
      const ssize_t n = ::send(socket.native_handle(), queued.data() + sent, queued.size() - sent,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        finish(bank::CloseReason::reset);
        return false;
      }
      break;  // The socket's buffer is full: wait for it below.
    }
    queued.erase(0, sent);
    if (!queued.empty()) {
      start_write();
    } else if (close_requested) {
      begin_linger();
      return false;
    } else if (send_shut) {
      shut_now();
    }
    return true;
  }

  void start_write() {
    writing.swap(queued);
    queued.clear();
    write_in_flight = true;
    asio::async_write(
        socket, asio::buffer(writing),
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
    if (!write_queued()) return;
    auto self = shared_from_this();
    if (handler != nullptr) handler->on_sent();
  }

  void shutdown_send() {
    if (finished || close_requested || send_shut) return;
    send_shut = true;
    if (!write_in_flight && !flush_posted && queued.empty()) shut_now();
  }

  void shut_now() {
    asio::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }

  void close() {
    if (finished || close_requested) return;
    close_requested = true;
    stop_reading();  // Lingering drains what still comes.
    if (!write_in_flight && !flush_posted && queued.empty()) {
      // Never inline: on_closed must come from the loop.
      asio::post(socket.get_executor(), [self = shared_from_this()] { self->begin_linger(); });
    }
  }

  // Half-close, then drain the peer's input until it closes or linger_timeout.
  void begin_linger() {
    if (finished) return;
    shut_now();
    linger_timer.expires_after(linger_timeout);
    linger_timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->finish(bank::CloseReason::local_close);
    });
    drain();
  }

  void drain() {
    socket.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
      if (self->finished) return;
      asio::error_code read_ec;
      if (!ec) self->read_now(read_ec);
      if (ec || read_ec) {
        self->finish(bank::CloseReason::local_close);
      } else {
        self->drain();
      }
    });
  }

  void finish(bank::CloseReason reason) {
    if (finished) return;
    finished = true;
    readiness->forget(watch_id);  // Closing the socket takes it out of the set.
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
    readiness->forget(watch_id);
    asio::error_code ignored;
    linger_timer.cancel();
    socket.close(ignored);
  }
};

void Readiness::dispatch() {
  const int count = ::epoll_wait(set.native_handle(), ready.data(), static_cast<int>(ready.size()), 0);
  dispatching = true;
  for (int i = 0; i < count; ++i) {
    // By id, not by pointer: a connection an earlier one's handler closed is simply gone.
    auto it = watched.find(ready[static_cast<std::size_t>(i)].data.u64);
    if (it == watched.end()) continue;
    if (auto state = it->second.lock()) {
      state->on_ready();
    } else {
      watched.erase(it);
    }
  }
  dispatching = false;
  // Nothing joins to_flush now (send() posts outside a turn's reads).
  for (auto& state : to_flush) state->posted_flush();
  to_flush.clear();
  wait();
}

class AsioConnection final : public bank::Connection {
 public:
  explicit AsioConnection(std::shared_ptr<ConnectionState> state) : state_(std::move(state)) {}
  ~AsioConnection() override { state_->detach(); }

  void start(bank::ConnectionHandler* handler) override {
    state_->handler = handler;
    state_->started = true;
    state_->start_read();
  }
  using bank::Connection::send;
  void send(std::string_view head, std::string_view tail) override { state_->send(head, tail); }
  std::size_t send_queued_bytes() const override { return state_->queued.size() + state_->writing.size(); }
  void pause_reading() override { state_->pause(); }  // Nothing is read while paused.
  void resume_reading() override { state_->resume(); }
  void shutdown_send() override { state_->shutdown_send(); }
  void close() override { state_->close(); }
  std::string peer_name() const override { return state_->peer; }

 private:
  std::shared_ptr<ConnectionState> state_;
};

struct AcceptorState : std::enable_shared_from_this<AcceptorState> {
  AcceptorState(asio::io_context& io, std::shared_ptr<Readiness> reads,
                std::function<void(const std::string&)> warn_sink)
      : acceptor(io), backoff(io), readiness(std::move(reads)), warn(std::move(warn_sink)) {
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  ~AcceptorState() {
    if (spare_fd >= 0) ::close(spare_fd);
  }
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::shared_ptr<Readiness> readiness;
  std::function<void(const std::string&)> warn;
  bank::AcceptCallback on_accept;
  bool closed = false;
  // A descriptor held in reserve: when accepts fail for want of descriptors,
  // it is let go so that one waiting client can be told why, then taken back.
  int spare_fd = -1;
  std::uint64_t refused_for_descriptors = 0;
  std::chrono::steady_clock::time_point warned_at{};

  void accept_next() {
    acceptor.async_accept([self = shared_from_this()](const asio::error_code& ec, tcp::socket socket) {
      if (self->closed) return;
      if (!ec) {
        self->on_accept(std::make_unique<AsioConnection>(
            std::make_shared<ConnectionState>(std::move(socket), self->readiness)));
        self->accept_next();
        return;
      }
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
          ec == asio::error::no_memory) {
        // Out of descriptors: never spin on a listen queue that stays full.
        // Tell the waiting clients, then wait a little before accepting again.
        self->refuse_waiting(ec);
        self->backoff.expires_after(accept_backoff);
        self->backoff.async_wait([self](const asio::error_code& wait_ec) {
          if (!wait_ec && !self->closed) self->accept_next();
        });
        return;
      }
      self->accept_next();  // A client that gave up before its accept (ECONNABORTED): go on.
    });
  }

  // Tells every client waiting in the listen queue why, and closes it: with
  // the spare descriptor let go, each accepted one is closed before the next.
  void refuse_waiting(const asio::error_code& ec) {
    if (spare_fd >= 0) {
      ::close(spare_fd);
      spare_fd = -1;
    }
    std::string notice;
    bank::append_frame(notice, fmt::format("{} (the server is out of file descriptors); try again later",
                                           bank::notice_too_many_connections));
    for (;;) {
      const int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      // Read what the client already sent: closing with unread input would
      // reset the connection, and the reset could destroy the notice.
      std::array<char, 4096> discard{};
      while (::recv(fd, discard.data(), discard.size(), MSG_DONTWAIT) > 0) {
      }
      [[maybe_unused]] const ssize_t sent =
          ::send(fd, notice.data(), notice.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      ++refused_for_descriptors;
    }
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const auto now = std::chrono::steady_clock::now();
    if (warn && now - warned_at >= descriptor_warning_interval) {
      warned_at = now;
      warn(
          fmt::format("accepting a connection failed: {}; {} client(s) told so and closed so far; raise the "
                      "open-files limit (ulimit -n) or lower --max-connections",
                      ec.message(), refused_for_descriptors));
    }
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

// SIGINT and SIGTERM, waited for on a thread of their own (see on_shutdown_signal).
class SignalWatch {
 public:
  SignalWatch(asio::io_context& io, std::function<void(int)> on_signal, std::chrono::milliseconds bound,
              std::function<void()> on_overdue)
      : io_(io), on_signal_(std::move(on_signal)), bound_(bound), on_overdue_(std::move(on_overdue)) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatch() {
    closing_ = true;
    ::pthread_kill(thread_.native_handle(), SIGTERM);  // Ends its wait; it sees closing_.
    thread_.join();
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

 private:
  void watch() {
    std::optional<std::chrono::steady_clock::time_point> deadline;
    for (;;) {
      siginfo_t info{};
      int signal_number = -1;
      if (deadline) {
        const auto left = std::max(std::chrono::nanoseconds(0), *deadline - std::chrono::steady_clock::now());
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
        const timespec timeout{static_cast<time_t>(seconds.count()),
                               static_cast<long>((left - seconds).count())};
        signal_number = ::sigtimedwait(&signals_, &info, &timeout);
      } else {
        signal_number = ::sigwaitinfo(&signals_, &info);
      }
      if (closing_) return;
      if (signal_number < 0) {
        if (deadline && std::chrono::steady_clock::now() >= *deadline) {
          on_overdue_();
          std::_Exit(1);
        }
        continue;  // EINTR, or woken early.
      }
      asio::post(io_, [this, signal_number] { on_signal_(signal_number); });
      if (!deadline) deadline = std::chrono::steady_clock::now() + bound_;
    }
  }

  asio::io_context& io_;
  std::function<void(int)> on_signal_;
  std::chrono::milliseconds bound_;
  std::function<void()> on_overdue_;
  sigset_t signals_{};
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

struct SystemRuntime::Impl {
  asio::io_context io{1};
  std::map<bank::TimerId, std::unique_ptr<asio::steady_timer>> timers;
  bank::TimerId timer_id_next = 1;
  std::shared_ptr<Readiness> readiness = std::make_shared<Readiness>(io);
  std::function<void(const std::string&)> warn;
  std::unique_ptr<SignalWatch> signal_watch;  // Last: it posts to io.
};

SystemRuntime::SystemRuntime() : impl_(std::make_unique<Impl>()) {}
SystemRuntime::~SystemRuntime() = default;

std::int64_t SystemRuntime::realtime_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SystemRuntime::monotonic_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
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

bank::Result<std::unique_ptr<bank::Listener>> SystemRuntime::listen(const std::string& address,
                                                                    std::uint16_t port,
                                                                    bank::AcceptCallback on_accept) {
  asio::error_code ec;
  tcp::endpoint endpoint;
  const auto ip = asio::ip::make_address(address, ec);
  if (!ec) {
    endpoint = tcp::endpoint(ip, port);
  } else {
    tcp::resolver resolver(impl_->io);
    auto results = resolver.resolve(address, std::to_string(port), tcp::resolver::passive, ec);
    if (ec || results.empty())
      return bank::Error{fmt::format("cannot resolve address '{}': {}", address, ec.message())};
    endpoint = results.begin()->endpoint();
  }
  auto state = std::make_shared<AcceptorState>(impl_->io, impl_->readiness, impl_->warn);
  state->on_accept = std::move(on_accept);
  auto& acceptor = state->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) return bank::Error{ec.message()};
  if (acceptor.set_option(tcp::acceptor::reuse_address(true), ec); ec) return bank::Error{ec.message()};
  if (acceptor.bind(endpoint, ec); ec) return bank::Error{ec.message()};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return bank::Error{ec.message()};
  state->accept_next();
  return std::unique_ptr<bank::Listener>(std::make_unique<AsioListener>(std::move(state)));
}

void SystemRuntime::post(std::function<void()> work) {
  asio::post(impl_->io, std::move(work));
}

void SystemRuntime::set_warning_sink(std::function<void(const std::string&)> warn) {
  impl_->warn = std::move(warn);
}

bool SystemRuntime::input_waiting() {
  epoll_event event{};
  return ::epoll_wait(impl_->readiness->set.native_handle(), &event, 1, 0) > 0;
}

void SystemRuntime::on_shutdown_signal(std::function<void(int)> on_signal, std::chrono::milliseconds bound,
                                       std::function<void()> on_overdue) {
  BANK_ASSERT(!impl_->signal_watch);
  impl_->signal_watch =
      std::make_unique<SignalWatch>(impl_->io, std::move(on_signal), bound, std::move(on_overdue));
}

void SystemRuntime::run() {
  impl_->io.restart();
  impl_->io.run();
}

void SystemRuntime::stop() {
  for (auto& [id, timer] : impl_->timers) timer->cancel();
  impl_->timers.clear();
  impl_->io.stop();
}

}  // namespace dst_demo
