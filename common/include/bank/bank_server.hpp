#pragma once
// The bank server, written once against the seams in io.hpp: it accepts
// connections, runs a Session per connection, answers reads from the durable
// ledger, and answers a CREATE or VOID only after its journal record is synced.
// Writes that arrive while a sync is in flight share the next sync (group
// commit). After a disk failure it refuses writes and keeps serving reads.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bank/framing.hpp"
#include "bank/io.hpp"
#include "bank/journal.hpp"
#include "bank/ledger.hpp"
#include "bank/log.hpp"
#include "bank/result.hpp"
#include "bank/session.hpp"

namespace bank {

struct BankServerConfig {
  std::string address = "0.0.0.0";
  std::uint16_t port = 3000;
  std::string journal_file = "bank.journal";
  std::size_t frame_bytes_max = frame_bytes_max_default;
  std::size_t connections_max = 10'000;
  // A connection that sends nothing for this long is told so and closed; 0 disables.
  std::int64_t idle_timeout_ms = 300'000;
  // A connection whose unsent replies (sent but not yet taken by the network,
  // and held behind a write that syncs) exceed this is not read from until
  // they drain.
  std::size_t send_queue_bytes_max = 1024 * 1024;
  // Requests of one connection handled and not yet answered (pipelined behind
  // writes that sync): past this many, the connection is not read from until
  // the oldest is answered.
  std::size_t requests_in_flight_max = 256;
  // Group commit: a batch ready to sync waits at most this long for the
  // clients the last sync answered to send their next requests (see
  // BankServer::maybe_flush); 0 does not wait.
  std::int64_t group_commit_hold_ms = 1;
  // How long shutdown waits for connections to drain before it gives up on them.
  std::int64_t shutdown_grace_ms = 5'000;
  bool allow_remote_exit = false;
};

struct BankEnvironment {
  Clock& clock;
  Timers& timers;
  Network& network;
  Disk& disk;
  Logger& log;
};

struct BankServerStats {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t requests = 0;
  std::uint64_t ledger_replies = 0;  // Replies that showed the ledger: reads, acknowledgements.
  std::uint64_t writes_staged = 0;
  std::uint64_t syncs = 0;
  std::uint64_t disk_failures = 0;
};

class BankServer {
 public:
  // Recovers the ledger from the journal, then listens.
  static Result<std::unique_ptr<BankServer>> start(BankEnvironment environment, BankServerConfig config);
  ~BankServer();
  BankServer(const BankServer&) = delete;
  BankServer& operator=(const BankServer&) = delete;

  std::uint16_t port() const { return port_; }
  const Ledger& ledger() const { return ledger_; }
  const BankServerStats& stats() const { return stats_; }
  bool writes_disabled() const { return writes_disabled_; }

  // Runs when a client's EXIT is accepted (only with allow_remote_exit).
  void set_on_exit_requested(std::function<void()> callback) { on_exit_requested_ = std::move(callback); }

  // Stops accepting and reading, lets writes in flight finish and be answered,
  // closes every connection, then runs on_done (at the latest after
  // shutdown_grace_ms).
  void shutdown(std::function<void()> on_done);

 private:
  class Client;
  struct Waiter {
    std::uint64_t client_id;
    std::uint64_t transaction_id;  // Answered once this transaction is durable.
    std::string refusal;           // The answer when not empty; else the transaction's line.
    std::uint64_t reply_slot;      // Where its answer goes in the client's replies, in request order.
  };

  BankServer(BankEnvironment environment, BankServerConfig config, Journal journal, Ledger ledger);

  void on_accept(std::unique_ptr<Connection> connection);
  void on_client_data(Client& client, std::string_view bytes);
  void on_client_closed(std::uint64_t client_id, CloseReason reason);
  void pump(Client& client);
  void update_reading(Client& client);
  void handle_frame(Client& client, std::string_view frame);
  void perform(Client& client, SessionAction action);
  void handle_write(Client& client, const SessionAction& action);
  void send_frame(Client& client, std::string_view payload);
  // Replies leave in request order: reply() sends at once unless an earlier
  // request is still waiting for its sync, then it waits behind it.
  // (A LIST reply is sent from the ledger's cached text, copied only when it must wait.)
  void reply(Client& client, std::string_view payload);
  void reply_prompt(Client& client, std::string_view prompt);
  bool release_held_prompt(Client& client);  // True if a held prompt left.
  std::uint64_t hold_reply(Client& client);  // A slot for an answer that comes later.
  void fill_reply(Client& client, std::uint64_t slot, std::string payload);
  void send_ready_replies(Client& client);
  void close_after_replies(Client& client);
  void close_client(Client& client);
  void arm_idle_timer(Client& client, std::int64_t delay_ms);
  void on_idle_timer(std::uint64_t client_id);

  void maybe_flush();
  void on_durable(std::uint64_t through_id);
  void on_disk_failure(std::string_view operation, IoStatus status);
  // After a failed append or sync, once nothing is in flight: cut the journal
  // back to what was durably synced (Linux may never write the failed pages,
  // yet serve them to a restarted server from its page cache).
  void discard_failed_writes();
  void maybe_finish_shutdown();
  std::int64_t now_s() const;

  BankEnvironment env_;
  BankServerConfig config_;
  Journal journal_;
  Ledger ledger_;
  std::unique_ptr<Listener> listener_;
  std::uint16_t port_ = 0;

  // Ordered by id: iteration order must not depend on addresses or hashes.
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::uint64_t client_id_next_ = 1;
  std::size_t clients_refused_open_ = 0;

  std::string batch_;  // Encoded records staged but not yet handed to the disk.
  bool flush_in_flight_ = false;
  std::set<std::uint64_t> awaited_;  // Clients the last sync answered, not heard from since.
  TimerId hold_timer_ = 0;           // A batch waiting for them (see maybe_flush).
  std::vector<Waiter> waiters_;
  bool writes_disabled_ = false;

  bool shutting_down_ = false;
  std::function<void()> on_shutdown_done_;
  TimerId shutdown_timer_ = 0;
  std::function<void()> on_exit_requested_;
  BankServerStats stats_;
};

}  // namespace bank
