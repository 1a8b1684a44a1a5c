#include "sim/sim_network.hpp"

#include <fmt/format.h>

#include <deque>
#include <optional>

namespace sim {

struct Piece {
  std::size_t size;
  std::int64_t ready_ms;
};

// One direction of a connection. The pieces' bytes are kept in one buffer, in
// order, so that a send or a delivery allocates nothing once it has grown. A
// delivery hands the reader a view into the buffer, not a copy: while the
// view is out, the bytes under it stay where they are (a send that must grow
// the buffer, or a reset that empties it, leaves the old buffer aside until
// the delivery ends).
struct Pipe {
  std::deque<Piece> pieces;
  std::string data;  // The bytes of the pieces, from head on.
  std::size_t head = 0;
  std::size_t bytes() const { return data.size() - head; }  // In flight.
  // A write's bytes, joined in one append (at most one reallocation).
  void append(std::string_view first, std::string_view second) {
    const std::size_t size = data.size() + first.size() + second.size();
    if (viewing && size > data.capacity()) {
      std::string grown;
      grown.reserve(std::max(size, 2 * data.capacity()));
      grown.append(data);
      set_aside(std::move(grown));
    }
    data.reserve(size);
    data.append(first);
    data.append(second);
  }
  // The next size bytes appended become a piece.
  void cut(std::size_t size, std::int64_t ready_ms) { pieces.push_back(Piece{size, ready_ms}); }
  void clear() {
    pieces.clear();
    if (viewing) {
      set_aside(std::string());
    } else {
      data.clear();
    }
    head = 0;
  }
  // Hands out the next size bytes: valid until end_delivery().
  std::string_view deliver(std::size_t size) {
    BANK_ASSERT(!viewing && size <= bytes());
    // Bytes held inside the string itself (its short-string buffer) would move
    // with it: the view needs them on the heap.
    if (data.capacity() <= std::string().capacity()) data.reserve(std::string().capacity() + 1);
    viewing = true;
    const std::string_view view(data.data() + head, size);
    head += size;
    return view;
  }
  void end_delivery() {
    viewing = false;
    std::string().swap(aside);  // Released: nothing points into it any more.
    if (head == data.size()) {
      data.clear();
      head = 0;
    } else if (head >= compact_at_bytes) {
      data.erase(0, head);
      head = 0;
    }
  }
  // Replaces the buffer with `fresh`, keeping the old one (and the view into
  // it) alive until the delivery ends.
  void set_aside(std::string fresh) {
    if (aside.empty()) aside = std::move(data);
    data = std::move(fresh);
  }
  bool viewing = false;  // A delivery's view into data is out.
  std::string aside;     // The buffer a view points into, replaced meanwhile.
  static constexpr std::size_t compact_at_bytes = 64 * 1024;
  std::int64_t last_ready_ms = 0;
  EventId pump_event = 0;
  bool fin = false;   // The sender closed: after the last piece, the reader sees EOF.
  bool half = false;  // ...only its sending side (shutdown_send): the reader's input ends, both stay open.
};

// Side 0 is the connecting node, side 1 the accepting one. pipes[d] carries
// bytes from side d to side 1 - d.
struct SimConnectionState {
  std::uint64_t id = 0;
  std::string nodes[2];
  SimEndpoint* endpoints[2] = {nullptr, nullptr};
  bool finished[2] = {false, false};
  bool vanished[2] = {false, false};           // That side is gone without a word: bytes to it are lost.
  std::int64_t last_delivered_ms[2] = {0, 0};  // Per direction: when its last bytes (or its start) arrived.
  std::optional<SimNetwork::CloseView> closed_view[2];  // What each side had heard when it closed.
  bool reset_pending = false;
  Pipe pipes[2];
  // This connection's own stream: how its writes are cut and delayed, and
  // how its pieces coalesce. Seeded by its two nodes and how many
  // connections the first has opened to the second before.
  MomentRng rng{0};
  // The link between its nodes, looked up again only when a link was added
  // (links are never removed): a delivery looks it up without building a key.
  const SimNetwork::Link* link = nullptr;
  std::size_t links_seen = SIZE_MAX;
};

class SimEndpoint final : public bank::Connection {
 public:
  SimEndpoint(SimNetwork& network, std::shared_ptr<SimConnectionState> state, int side)
      : network_(network), state_(std::move(state)), side_(side) {
    state_->endpoints[side_] = this;
  }
  ~SimEndpoint() override {
    state_->endpoints[side_] = nullptr;
    handler_ = nullptr;
    if (!state_->finished[side_] && !state_->vanished[side_]) {
      // Destroyed without a close: the peer sees a reset.
      state_->finished[side_] = true;
      network_.reset_connection(state_);
    }
    network_.forget_if_done(state_);
  }

  void start(bank::ConnectionHandler* handler) override {
    handler_ = handler;
    network_.schedule_pump(state_, 1 - side_);
  }
  using bank::Connection::send;
  void send(std::string_view head, std::string_view tail) override {
    std::size_t left = head.size() + tail.size();
    if (state_->finished[side_] || close_requested_ || send_shut_ || left == 0) return;
    Pipe& pipe = state_->pipes[side_];
    pipe.append(head, tail);
    Rng& rng = state_->rng.at(network_.world_.now_ms());
    // Cut the write into up to pieces_per_send_max pieces of random sizes: the
    // reader sees frames split across reads (and, where pieces coalesce,
    // several in one read) at a bounded cost per send.
    std::size_t pieces = 1 + rng.below(network_.config_.pieces_per_send_max);
    pieces = std::min(pieces, left);
    while (left != 0) {
      const std::size_t piece_bytes =
          pieces <= 1 ? left : 1 + rng.below(std::max<std::size_t>(1, left * 2 / pieces));
      const std::size_t taken = std::min(piece_bytes, left);
      const std::int64_t ready_ms =
          std::max(pipe.last_ready_ms, network_.world_.now_ms() + network_.latency(rng));
      pipe.cut(taken, ready_ms);
      pipe.last_ready_ms = ready_ms;
      left -= taken;
      if (pieces > 1) --pieces;
    }
    network_.schedule_pump(state_, side_);
  }
  std::size_t send_queued_bytes() const override {
    const std::size_t in_flight = state_->pipes[side_].bytes();
    return in_flight > network_.config_.window_bytes ? in_flight - network_.config_.window_bytes : 0;
  }
  void pause_reading() override { paused_ = true; }
  void resume_reading() override {
    if (!paused_) return;
    paused_ = false;
    network_.schedule_pump(state_, 1 - side_);
  }
  void shutdown_send() override {
    if (state_->finished[side_] || close_requested_ || send_shut_) return;
    send_shut_ = true;
    state_->pipes[side_].fin = true;
    state_->pipes[side_].half = true;
    network_.schedule_pump(state_, side_);
  }
  void close() override {
    if (state_->finished[side_] || close_requested_) return;
    close_requested_ = true;
    const Pipe& incoming = state_->pipes[1 - side_];
    const std::int64_t now_ms = network_.world_.now_ms();
    state_->closed_view[side_] =
        SimNetwork::CloseView{now_ms, now_ms - state_->last_delivered_ms[1 - side_], incoming.pieces.empty()};
    if (!state_->pipes[1 - side_].pieces.empty()) {
      // Closing with unread input sends a reset, not a FIN: what was still in
      // flight to the peer may be lost with it.
      network_.reset_connection(state_);
      return;
    }
    state_->pipes[side_].fin = true;
    state_->pipes[side_].half = false;
    network_.schedule_pump(state_, side_);
  }
  std::string peer_name() const override {
    // "node#id"; the server asks once per connection.
    std::string name = state_->nodes[1 - side_];
    name += '#';
    name += std::to_string(state_->id);
    return name;
  }

  bank::ConnectionHandler* handler() const { return handler_; }
  std::size_t undelivered_bytes() const { return state_->pipes[side_].bytes(); }
  const std::optional<SimNetwork::CloseView>& peer_close_view() const {
    return state_->closed_view[1 - side_];
  }
  bool paused() const { return paused_; }
  void detach_handler() { handler_ = nullptr; }

 private:
  SimNetwork& network_;
  std::shared_ptr<SimConnectionState> state_;
  int side_;
  bank::ConnectionHandler* handler_ = nullptr;
  bool paused_ = false;
  bool close_requested_ = false;
  bool send_shut_ = false;
};

class SimListener final : public bank::Listener {
 public:
  SimListener(SimNetwork& network, std::string node, std::uint16_t port, bank::AcceptCallback on_accept)
      : network_(network), node_(std::move(node)), port_(port), on_accept_(std::move(on_accept)) {
    network_.listeners_[{node_, port_}] = &on_accept_;
  }
  ~SimListener() override { network_.listeners_.erase({node_, port_}); }
  std::uint16_t port() const override { return port_; }

 private:
  SimNetwork& network_;
  std::string node_;
  std::uint16_t port_;
  bank::AcceptCallback on_accept_;
};

class SimNetwork::NodeNetwork final : public bank::Network {
 public:
  NodeNetwork(SimNetwork& network, std::string name) : network_(network), name_(std::move(name)) {}
  bank::Result<std::unique_ptr<bank::Listener>> listen(const std::string& /*address*/, std::uint16_t port,
                                                       bank::AcceptCallback on_accept) override {
    if (port == 0) {
      std::uint16_t& next = network_.ephemeral_port_next_[name_];
      if (next == 0) next = 40000;
      port = next++;
    }
    if (network_.listeners_.contains({name_, port})) {
      return bank::Error{fmt::format("address in use: {}:{}", name_, port)};
    }
    return std::unique_ptr<bank::Listener>(
        std::make_unique<SimListener>(network_, name_, port, std::move(on_accept)));
  }

 private:
  SimNetwork& network_;
  std::string name_;
};

SimNetwork::SimNetwork(World& world, NetworkConfig config) : world_(world), config_(config) {
  BANK_ASSERT(config_.latency_ms_min >= 0);
  BANK_ASSERT(config_.latency_ms_min <= config_.latency_ms_max);
  BANK_ASSERT(config_.pieces_per_send_max > 0);
}

SimNetwork::~SimNetwork() {
  // Endpoints may outlive the network only if nobody touches them again.
  for (auto& [id, state] : connections_) {
    for (int side = 0; side < 2; ++side) state->finished[side] = true;
  }
}

bank::Network& SimNetwork::node(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) slot = std::make_unique<NodeNetwork>(*this, name);
  return *slot;
}

std::int64_t SimNetwork::latency(Rng& rng) const {
  return rng.range(config_.latency_ms_min, config_.latency_ms_max);
}

Rng& SimNetwork::connect_rng(const std::string& from, const std::string& to) {
  auto it = connect_rngs_.find({from, to});
  if (it == connect_rngs_.end())
    it = connect_rngs_
             .emplace(std::pair{from, to},
                      MomentRng(world_.stream_seed("connect " + from + " " + to), world_.salt_source()))
             .first;
  return it->second.at(world_.now_ms());
}

SimNetwork::LinkKey SimNetwork::link_key(const std::string& a, const std::string& b) {
  return a < b ? LinkKey{a, b} : LinkKey{b, a};
}

const SimNetwork::Link* SimNetwork::find_link(const std::string& a, const std::string& b) const {
  if (links_.empty()) return nullptr;  // Most runs, most of the time: no key built.
  auto it = links_.find(link_key(a, b));
  return it == links_.end() ? nullptr : &it->second;
}

bool SimNetwork::link_blocked(const std::string& a, const std::string& b) const {
  const Link* link = find_link(a, b);
  return link != nullptr && (link->partitioned || link->clogged_until_ms > world_.now_ms());
}

bool SimNetwork::blocks(const Link* link, const std::string& from) const {
  return link != nullptr && (link->partitioned || link->clogged_until_ms > world_.now_ms() ||
                             link->one_way_blocked_sender == from);
}

bool SimNetwork::flow_blocked(const std::string& from, const std::string& to) const {
  return blocks(find_link(from, to), from);
}

bool SimNetwork::flow_blocked(SimConnectionState& state, int direction) const {
  if (state.links_seen != links_.size()) {
    state.link = find_link(state.nodes[0], state.nodes[1]);
    state.links_seen = links_.size();
  }
  return blocks(state.link, state.nodes[direction]);
}

void SimNetwork::connect(const std::string& from, const std::string& to, std::uint16_t port,
                         ConnectCallback on_done) {
  if (const Link* link = find_link(from, to); link != nullptr && link->partitioned) {
    world_.schedule_after(config_.connect_timeout_ms, "net connect timeout",
                          [on_done = std::move(on_done), to, port] {
                            on_done(bank::Error{fmt::format("connect to {}:{} timed out", to, port)});
                          });
    return;
  }
  Rng& rng = connect_rng(from, to);
  const std::uint64_t ordinal = rng.next();  // Names this connection's own stream.
  world_.schedule_after(
      latency(rng), "net connect", [this, from, to, port, ordinal, on_done = std::move(on_done)] {
        auto it = listeners_.find({to, port});
        if (down_.contains(to) || down_.contains(from) || it == listeners_.end()) {
          on_done(bank::Error{fmt::format("connect to {}:{} refused", to, port)});
          return;
        }
        auto state = std::make_shared<SimConnectionState>();
        state->id = connection_id_next_++;
        state->rng = MomentRng(ordinal, world_.salt_source());
        state->nodes[0] = from;
        state->nodes[1] = to;
        state->last_delivered_ms[0] = state->last_delivered_ms[1] = world_.now_ms();
        for (Pipe& pipe : state->pipes) {
          if (spare_buffers_.empty()) break;
          pipe.data = std::move(spare_buffers_.back());
          spare_buffers_.pop_back();
        }
        connections_.emplace(state->id, state);
        auto client = std::make_unique<SimEndpoint>(*this, state, 0);
        if (auto failing = accepts_failing_until_ms_.find(to);
            failing != accepts_failing_until_ms_.end() && failing->second > world_.now_ms()) {
          // The kernel completed the handshake, the server's accept failed: nobody reads.
          state->vanished[1] = true;
          state->finished[1] = true;
          reset_later(state);
          on_done(std::unique_ptr<bank::Connection>(std::move(client)));
          return;
        }
        auto server = std::make_unique<SimEndpoint>(*this, state, 1);
        bank::AcceptCallback& accept = *it->second;
        accept(std::move(server));
        on_done(std::unique_ptr<bank::Connection>(std::move(client)));
      });
}

void SimNetwork::schedule_pump(const std::shared_ptr<SimConnectionState>& state, int direction) {
  Pipe& pipe = state->pipes[direction];
  if (pipe.pump_event != 0) return;
  if (pipe.pieces.empty() && !pipe.fin) return;
  const int reader = 1 - direction;
  if (state->finished[direction] && state->finished[reader]) return;
  if (flow_blocked(*state, direction)) return;  // kick_link() resumes it.
  SimEndpoint* receiver = state->endpoints[reader];
  if (!pipe.pieces.empty() && receiver != nullptr && (receiver->paused() || receiver->handler() == nullptr)) {
    return;  // resume_reading() or start() resumes it.
  }
  const std::int64_t ready_ms = pipe.pieces.empty() ? world_.now_ms() : pipe.pieces.front().ready_ms;
  const std::int64_t delay_ms = std::max<std::int64_t>(0, ready_ms - world_.now_ms());
  pipe.pump_event = world_.schedule_after(delay_ms, "net deliver", [this, state, direction] {
    state->pipes[direction].pump_event = 0;
    pump(state, direction);
  });
}

void SimNetwork::pump(const std::shared_ptr<SimConnectionState>& state, int direction) {
  Pipe& pipe = state->pipes[direction];
  const int reader = 1 - direction;
  if (flow_blocked(*state, direction)) return;
  if (state->vanished[reader]) {
    // Nobody is there: the bytes are lost, and the sender's retransmissions
    // will time out.
    pipe.clear();
    pipe.fin = false;
    pipe.half = false;
    reset_later(state);
    return;
  }
  if (!pipe.pieces.empty()) {
    SimEndpoint* receiver = state->endpoints[reader];
    if (receiver != nullptr && (receiver->paused() || receiver->handler() == nullptr)) return;
    // Deliver the head piece, coalescing with ready followers now and then.
    std::size_t size = pipe.pieces.front().size;
    pipe.pieces.pop_front();
    while (!pipe.pieces.empty() && pipe.pieces.front().ready_ms <= world_.now_ms() &&
           state->rng.at(world_.now_ms()).chance(1, 2)) {
      size += pipe.pieces.front().size;
      pipe.pieces.pop_front();
    }
    // A view into the pipe (see Pipe); a delivery only ever runs from its own
    // event, never from inside another.
    const std::string_view bytes = pipe.deliver(size);
    bytes_delivered_ += bytes.size();
    state->last_delivered_ms[direction] = world_.now_ms();
    if (receiver != nullptr && !state->finished[reader]) receiver->handler()->on_data(bytes);
    pipe.end_delivery();
    SimEndpoint* sender = state->endpoints[direction];
    if (sender != nullptr && !state->finished[direction] && sender->handler() != nullptr) {
      sender->handler()->on_sent();
    }
  } else if (pipe.fin && pipe.half) {
    // A half-close: the reader's input ends once it has read everything (not
    // while it is paused); both sides stay open, and the reader closes in turn.
    SimEndpoint* receiver = state->endpoints[reader];
    if (receiver != nullptr && receiver->paused()) return;  // resume_reading() resumes it.
    pipe.fin = false;
    pipe.half = false;
    if (receiver != nullptr && !state->finished[reader] && receiver->handler() != nullptr)
      receiver->handler()->on_input_ended();
    return;
  } else if (pipe.fin) {
    pipe.fin = false;
    pipe.half = false;
    // EOF reaches the reader; the closer learns its close completed.
    notify_closed(state, reader, bank::CloseReason::peer_closed);
    notify_closed(state, direction, bank::CloseReason::local_close);
    forget_if_done(state);
    return;
  }
  schedule_pump(state, direction);
}

void SimNetwork::notify_closed(const std::shared_ptr<SimConnectionState>& state, int side,
                               bank::CloseReason reason) {
  if (state->finished[side]) return;
  state->finished[side] = true;
  SimEndpoint* endpoint = state->endpoints[side];
  if (endpoint == nullptr || endpoint->handler() == nullptr) return;
  bank::ConnectionHandler* handler = endpoint->handler();
  endpoint->detach_handler();
  handler->on_closed(reason);  // May destroy the endpoint.
}

void SimNetwork::reset_connection(const std::shared_ptr<SimConnectionState>& state) {
  for (auto& pipe : state->pipes) {
    if (pipe.pump_event != 0) world_.cancel(pipe.pump_event);
    pipe.pump_event = 0;
    pipe.clear();
    pipe.fin = false;
    pipe.half = false;
  }
  // Each side learns of the reset from the loop, never inline.
  world_.schedule_after(0, "net close", [this, state] {
    notify_closed(state, 0, bank::CloseReason::reset);
    notify_closed(state, 1, bank::CloseReason::reset);
    forget_if_done(state);
  });
}

void SimNetwork::reset_later(const std::shared_ptr<SimConnectionState>& state) {
  if (state->reset_pending) return;
  state->reset_pending = true;
  world_.schedule_after(config_.partition_reset_ms, "net reset stalled", [this, state] {
    if (state->finished[0] && state->finished[1]) return;
    reset_connection(state);
  });
}

void SimNetwork::vanish(const std::string& name) {
  std::vector<std::shared_ptr<SimConnectionState>> touched;
  for (auto& [id, state] : connections_) {
    if (state->nodes[0] == name || state->nodes[1] == name) touched.push_back(state);
  }
  for (auto& state : touched) {
    const int side = state->nodes[0] == name ? 0 : 1;
    if (state->finished[side]) continue;
    state->vanished[side] = true;
    // What it had sent is lost with it; the peer hears nothing at all.
    Pipe& pipe = state->pipes[side];
    if (pipe.pump_event != 0) world_.cancel(pipe.pump_event);
    pipe.pump_event = 0;
    pipe.clear();
    pipe.fin = false;
    pipe.half = false;
    // Its own process learns the connection is gone, from the loop.
    world_.schedule_after(0, "net reset", [this, state, side] {
      notify_closed(state, side, bank::CloseReason::reset);
      forget_if_done(state);
    });
  }
}

void SimNetwork::fail_accepts(const std::string& name, std::int64_t until_ms) {
  accepts_failing_until_ms_[name] = until_ms;
}

void SimNetwork::partition_one_way(const std::string& from, const std::string& to) {
  Link& link = links_[link_key(from, to)];
  link.one_way_blocked_sender = from;
  const std::uint64_t epoch = ++link.partition_epoch;
  // The blocked sender's retransmissions time out as in a partition.
  world_.schedule_after(config_.partition_reset_ms, "net reset stalled", [this, from, to, epoch] {
    const Link* current = find_link(from, to);
    if (current == nullptr || current->one_way_blocked_sender != from || current->partition_epoch != epoch)
      return;
    std::vector<std::shared_ptr<SimConnectionState>> crossing;
    for (auto& [id, state] : connections_) {
      if (link_key(state->nodes[0], state->nodes[1]) == link_key(from, to)) crossing.push_back(state);
    }
    for (auto& state : crossing) reset_connection(state);
  });
}

void SimNetwork::forget_if_done(const std::shared_ptr<SimConnectionState>& state) {
  if (state->endpoints[0] != nullptr || state->endpoints[1] != nullptr) return;
  for (Pipe& pipe : state->pipes) {
    // Nobody sends on it any more; an empty one's buffer can serve another.
    if (!pipe.viewing && pipe.pieces.empty() && pipe.data.capacity() > std::string().capacity() &&
        pipe.data.capacity() <= spare_buffer_bytes_max && spare_buffers_.size() < spare_buffers_max) {
      pipe.clear();
      spare_buffers_.push_back(std::move(pipe.data));
    }
  }
  connections_.erase(state->id);
}

void SimNetwork::crash(const std::string& name) {
  down_.insert(name);
  std::vector<std::shared_ptr<SimConnectionState>> touched;
  for (auto& [id, state] : connections_) {
    if (state->nodes[0] == name || state->nodes[1] == name) touched.push_back(state);
  }
  for (auto& state : touched) reset_connection(state);
}

std::size_t SimNetwork::undelivered_bytes(const bank::Connection& connection) const {
  // Every Connection this network hands out is one of its endpoints.
  return static_cast<const SimEndpoint&>(connection).undelivered_bytes();
}

std::optional<SimNetwork::CloseView> SimNetwork::peer_close_view(const bank::Connection& connection) const {
  return static_cast<const SimEndpoint&>(connection).peer_close_view();
}

std::uint64_t SimNetwork::bytes_in_flight() const {
  std::uint64_t bytes = 0;
  for (const auto& [id, state] : connections_) bytes += state->pipes[0].bytes() + state->pipes[1].bytes();
  return bytes;
}

void SimNetwork::set_up(const std::string& name) {
  down_.erase(name);
}
bool SimNetwork::is_up(const std::string& name) const {
  return !down_.contains(name);
}

void SimNetwork::partition(const std::string& a, const std::string& b) {
  Link& link = links_[link_key(a, b)];
  if (link.partitioned) return;
  link.partitioned = true;
  const std::uint64_t epoch = ++link.partition_epoch;
  // Streams across a partition stall, then time out.
  world_.schedule_after(config_.partition_reset_ms, "net reset stalled", [this, a, b, epoch] {
    const Link* current = find_link(a, b);
    if (current == nullptr || !current->partitioned || current->partition_epoch != epoch) return;
    std::vector<std::shared_ptr<SimConnectionState>> crossing;
    for (auto& [id, state] : connections_) {
      if (link_key(state->nodes[0], state->nodes[1]) == link_key(a, b)) crossing.push_back(state);
    }
    for (auto& state : crossing) reset_connection(state);
  });
}

void SimNetwork::heal(const std::string& a, const std::string& b) {
  auto it = links_.find(link_key(a, b));
  if (it == links_.end()) return;
  it->second.partitioned = false;
  it->second.clogged_until_ms = 0;
  it->second.one_way_blocked_sender.clear();
  kick_link(a, b);
}

void SimNetwork::clog(const std::string& a, const std::string& b, std::int64_t duration_ms) {
  Link& link = links_[link_key(a, b)];
  link.clogged_until_ms = std::max(link.clogged_until_ms, world_.now_ms() + duration_ms);
  world_.schedule_after(duration_ms, "net unclog", [this, a, b] { kick_link(a, b); });
}

void SimNetwork::heal_all() {
  accepts_failing_until_ms_.clear();
  std::vector<LinkKey> keys;
  for (auto& [key, link] : links_) keys.push_back(key);
  for (auto& key : keys) heal(key.first, key.second);
}

void SimNetwork::kick_link(const std::string& a, const std::string& b) {
  std::vector<std::shared_ptr<SimConnectionState>> crossing;
  for (auto& [id, state] : connections_) {
    if (link_key(state->nodes[0], state->nodes[1]) == link_key(a, b)) crossing.push_back(state);
  }
  for (auto& state : crossing) {
    schedule_pump(state, 0);
    schedule_pump(state, 1);
  }
}

std::vector<std::string> SimNetwork::describe_connections() const {
  std::vector<std::string> out;
  for (const auto& [id, state] : connections_) {
    auto side = [&](int i) {
      std::string flags;
      if (state->endpoints[i] == nullptr) flags += " gone";
      if (state->endpoints[i] != nullptr && state->endpoints[i]->paused()) flags += " paused";
      if (state->finished[i]) flags += " closed";
      if (state->vanished[i]) flags += " vanished";
      return fmt::format("{}{}", state->nodes[i], flags);
    };
    out.push_back(fmt::format("#{} {} -> {}: {} bytes in flight toward {}, {} toward {}", id, side(0),
                              side(1), state->pipes[0].bytes(), state->nodes[1], state->pipes[1].bytes(),
                              state->nodes[0]));
  }
  return out;
}

}  // namespace sim
