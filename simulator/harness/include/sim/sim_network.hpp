#pragma once
// SimNetwork: reliable, ordered byte streams between named nodes, with seeded
// latency, random splitting and coalescing of what was sent, connect refused
// while a node is down, every connection reset when its node crashes, and
// faults on links: a partition (nothing crosses; streams stall and reset after
// partition_reset_ms), a one-way partition (one direction stalls), and a clog
// (bytes are held, then all delivered). TCP's corners: closing a socket that
// has unread input sends a reset, which can destroy replies still in flight to
// the peer; a node that vanishes (powered off, cable cut) leaves its peers
// with half-open connections that learn nothing until they send and their
// retransmissions time out; a listener that fails to accept (out of file
// descriptors) leaves connecting clients talking to nobody.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bank/io.hpp"
#include "sim/world.hpp"

namespace sim {

struct NetworkConfig {
  std::int64_t latency_ms_min = 1;
  std::int64_t latency_ms_max = 10;
  // Each send is cut into 1..pieces_per_send_max pieces of random sizes.
  std::size_t pieces_per_send_max = 4;
  // Bytes in flight a sender may have before send_queued_bytes() counts them.
  std::size_t window_bytes = 64 * 1024;
  std::int64_t partition_reset_ms = 10'000;
  std::int64_t connect_timeout_ms = 5'000;
};

struct SimConnectionState;
class SimEndpoint;

using ConnectCallback = std::function<void(bank::Result<std::unique_ptr<bank::Connection>>)>;

class SimNetwork {
 public:
  SimNetwork(World& world, NetworkConfig config);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // The bank::Network a node's server listens through.
  bank::Network& node(const std::string& name);

  void connect(const std::string& from, const std::string& to, std::uint16_t port, ConnectCallback on_done);

  // A crashed node refuses connections until it is up again; every
  // connection touching it is reset.
  void crash(const std::string& name);
  void set_up(const std::string& name);
  bool is_up(const std::string& name) const;

  void partition(const std::string& a, const std::string& b);
  // Bytes from `from` to `to` stall; the other way flows. Heals with heal().
  void partition_one_way(const std::string& from, const std::string& to);
  // The node's connections vanish from under it: it sees them reset, while
  // each peer keeps a half-open connection that learns nothing until it sends.
  void vanish(const std::string& name);
  // Until until_ms, connections to `name` are set up by the kernel but never
  // accepted by the server: their bytes go nowhere and they reset later.
  void fail_accepts(const std::string& name, std::int64_t until_ms);
  void heal(const std::string& a, const std::string& b);
  void clog(const std::string& a, const std::string& b, std::int64_t duration_ms);
  void heal_all();
  bool link_blocked(const std::string& a, const std::string& b) const;
  // Bytes from `from` to `to` cannot cross now.
  bool flow_blocked(const std::string& from, const std::string& to) const;

  std::uint64_t bytes_delivered() const { return bytes_delivered_; }
  // Bytes this connection (one made by connect()) sent that have not reached its peer.
  std::size_t undelivered_bytes(const bank::Connection& connection) const;
  // What the peer had heard from this connection when it closed its side.
  struct CloseView {
    std::int64_t closed_at_ms;
    std::int64_t silence_ms;  // Since this side's last bytes (or the connection's start) reached it.
    bool read_everything;     // Every byte this side sent had reached it.
  };
  std::optional<CloseView> peer_close_view(const bank::Connection& connection) const;
  // Bytes sent and not yet delivered, over every connection.
  std::uint64_t bytes_in_flight() const;
  // Every open connection, a line each: its nodes, the bytes in flight each
  // way, whether a side has paused reading, closed or vanished (for the debugger).
  std::vector<std::string> describe_connections() const;

 private:
  friend class SimEndpoint;
  friend class SimListener;
  friend struct SimConnectionState;
  class NodeNetwork;
  struct Link {
    bool partitioned = false;
    std::string one_way_blocked_sender;  // Not empty: bytes from this node stall.
    std::uint64_t partition_epoch = 0;
    std::int64_t clogged_until_ms = 0;
  };
  using LinkKey = std::pair<std::string, std::string>;
  static LinkKey link_key(const std::string& a, const std::string& b);
  const Link* find_link(const std::string& a, const std::string& b) const;

  // Whether link (none: a link with no fault) stops bytes sent from `from` now.
  bool blocks(const Link* link, const std::string& from) const;
  // flow_blocked() for bytes from side `direction` of a connection to the other.
  bool flow_blocked(SimConnectionState& state, int direction) const;
  void schedule_pump(const std::shared_ptr<SimConnectionState>& state, int direction);
  void pump(const std::shared_ptr<SimConnectionState>& state, int direction);
  void kick_link(const std::string& a, const std::string& b);
  void reset_connection(const std::shared_ptr<SimConnectionState>& state);
  // A peer's retransmissions time out: it sees a reset later, unless it ends first.
  void reset_later(const std::shared_ptr<SimConnectionState>& state);
  void notify_closed(const std::shared_ptr<SimConnectionState>& state, int side, bank::CloseReason reason);
  void forget_if_done(const std::shared_ptr<SimConnectionState>& state);
  std::int64_t latency(Rng& rng) const;
  // The stream of connects from one node to another: their latencies, and
  // the seed of each connection's own stream.
  Rng& connect_rng(const std::string& from, const std::string& to);

  World& world_;
  NetworkConfig config_;
  std::map<std::string, std::unique_ptr<NodeNetwork>> nodes_;
  std::set<std::string> down_;
  std::map<std::pair<std::string, std::uint16_t>, bank::AcceptCallback*> listeners_;
  std::map<std::string, std::uint16_t> ephemeral_port_next_;
  std::map<LinkKey, Link> links_;
  std::map<std::string, std::int64_t> accepts_failing_until_ms_;
  std::map<std::uint64_t, std::shared_ptr<SimConnectionState>> connections_;
  std::uint64_t connection_id_next_ = 1;
  std::map<std::pair<std::string, std::string>, MomentRng> connect_rngs_;
  std::uint64_t bytes_delivered_ = 0;
  // The byte buffers of finished connections' pipes, handed to new ones so
  // that a connection's sends allocate nothing once buffers have grown.
  std::vector<std::string> spare_buffers_;
  static constexpr std::size_t spare_buffers_max = 64;
  static constexpr std::size_t spare_buffer_bytes_max = 16 * 1024;
};

}  // namespace sim
