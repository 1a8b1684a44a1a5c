#pragma once
// The bank-specific actors of a run, one file each: the Host (host.cpp, the
// unchanged BankServer on the simulated network, clock and disk), the Bankers
// (banker.hpp, clients running interaction plans and checking every reply),
// the FaultInjector (fault_injector.cpp), the HealthChecker
// (health_checker.cpp) and the Auditor (auditor.cpp) that reads the whole
// ledger at the end.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bank/bank_server.hpp"
#include "door_watch.hpp"
#include "framed_client.hpp"
#include "model.hpp"
#include "plan.hpp"
#include "run_events.hpp"
#include "sim/sim_disk.hpp"
#include "sim/sim_host_env.hpp"
#include "sim/sim_network.hpp"
#include "sim_logger.hpp"

namespace bank_sim {

inline constexpr std::uint16_t bank_port = 3000;
inline constexpr const char* bank_node = "bank";
inline constexpr const char* journal_file = "bank.journal";
// The longest reply a client of the simulation reads (a LIST of a long run).
inline constexpr std::size_t reply_bytes_max = 64 * 1024 * 1024;
inline constexpr std::size_t health_reply_bytes_max = 1024;  // "healthy", or a notice before a close.

struct RunStats {
  std::uint64_t interactions_done = 0;
  std::uint64_t requests_sent = 0;
  std::uint64_t retries = 0;
  std::uint64_t faults_injected = 0;
  std::uint64_t crashes = 0;
  std::uint64_t power_losses = 0;
  std::uint64_t stops = 0;
  std::uint64_t disk_faults = 0;
  std::uint64_t corruptions = 0;
  std::uint64_t refusals_after_corruption = 0;  // Legal: the server named the damage and did not start.
};

// What every actor of one run shares.
struct RunContext {
  sim::World& world;
  sim::SimNetwork& network;
  Model& model;
  RunStats& stats;
  bank::LogLevel log_level;
  std::string& log;
  RunEvents& events;  // Every event of the story goes here (the log lines of detail go to log).
  std::int64_t step_ms;
  std::int64_t liveness_deadline_ms;
  std::optional<std::int64_t> healed_at_ms;  // Set when faults stop for good.
  // Faults (and the host's restarts) disturb the run until this time; a
  // request sent after it and disturbed by nothing since must be answered
  // within calm_answer_ms.
  std::int64_t disturbed_until_ms = 0;
  std::int64_t calm_answer_ms = 10'000;
  std::int64_t latency_ms_max = 10;  // The network's longest one-way trip when nothing disturbs it.
  std::int64_t progress_at_ms = 0;   // When a banker's request last completed.
  void disturb(std::int64_t until_ms) { disturbed_until_ms = std::max(disturbed_until_ms, until_ms); }
};

class Host {
 public:
  Host(RunContext& context, bank::BankServerConfig config, sim::DiskConfig disk_config);
  ~Host();
  void start();
  // A process crash now: memory gone, connections reset, the page cache (and
  // with it every unsynced append) kept; boot again after restart_after_ms.
  void crash(std::int64_t restart_after_ms);
  // A power loss now: as a crash, and what was never synced is lost or torn.
  // Also while the host is down: the restart already planned still comes.
  void power_loss(std::int64_t restart_after_ms);
  // A graceful stop (an operator's SIGTERM): the server stops accepting and
  // reading, answers the writes in flight, closes every connection and exits,
  // within its grace period; boot again restart_after_ms after it exits.
  // Checked: it ends within the grace period; it ends before it with no write
  // in flight; it does not wait out the grace period once its last connection
  // closed with nothing in flight, nor with a connection it never began to
  // close while nothing was left to sync.
  void stop(std::int64_t restart_after_ms);
  bool up() const { return server_ != nullptr; }
  // Times the server has started: a number for the running process.
  std::uint64_t starts() const { return starts_; }
  // Graceful stops begun so far (one in progress included): an ERROR
  // "shutting down" needs one begun after its request was sent.
  std::uint64_t stops_begun() const { return stops_begun_; }
  bool stopping() const { return stop_began_ms_.has_value(); }
  // The heal: a host waiting for its disk to work again restarts at once.
  void restart_if_waiting() {
    if (restart_event_ != 0) schedule_start(context_.step_ms);
  }
  // Transactions durable on the host now (the last count seen while it is down).
  std::uint64_t durable_count() const {
    return server_ != nullptr ? server_->ledger().durable_count() : durable_last_;
  }
  // Disk operations that failed so far: an ERROR about the journal needs one.
  std::uint64_t disk_failures() const { return disk_.appends_failed + disk_.syncs_failed; }
  bool writes_disabled() const { return server_ != nullptr && server_->writes_disabled(); }
  // Writes staged and not yet durable (a sync in flight, or one to come).
  std::uint64_t writes_staged() const {
    return server_ != nullptr ? server_->ledger().staged_last_id() - server_->ledger().durable_count() : 0;
  }
  bool writes_in_flight() const { return writes_staged() > 0; }
  // The worst moment for a crash or a power loss: the server is up, has shown
  // its ledger to a client since it started, and its disk holds unsynced bytes.
  bool at_worst_moment() const {
    return server_ != nullptr && server_->stats().ledger_replies > 0 && disk_.holds_unsynced_bytes();
  }
  sim::SimClock& clock() { return clock_; }
  sim::SimDisk& disk() { return disk_; }
  // For the debugger, a line each: the server's ledger (durable and staged,
  // the last `last` transactions), and the journal on the simulated disk
  // (synced and unsynced bytes, its records decoded).
  std::vector<std::string> describe_ledger(std::size_t last) const;
  std::vector<std::string> describe_journal(std::size_t last) const;

 private:
  void stop_process(std::string_view what);
  void schedule_start(std::int64_t after_ms);
  void on_shutdown_done(std::int64_t restart_after_ms);
  void check_stop_after_close();

  RunContext& context_;
  bank::BankServerConfig config_;
  sim::SimDisk disk_;
  sim::SimClock clock_;
  sim::SimTimers timers_;
  SimLogger log_;
  DoorWatch door_;  // Before server_: the server's connections pass through it.
  std::unique_ptr<bank::BankServer> server_;
  sim::EventId restart_event_ = 0;
  std::optional<std::int64_t> down_since_ms_;
  std::uint64_t durable_last_ = 0;
  std::uint64_t stops_begun_ = 0;
  std::uint64_t starts_ = 0;
  std::optional<std::int64_t> stop_began_ms_;  // A graceful stop in progress.
  sim::EventId stop_bound_event_ = 0;          // Fails the run if the stop outlasts its bound.
  sim::EventId stopped_event_ = 0;             // The process exits (the server said it is done).
};

class HealthChecker {
 public:
  HealthChecker(RunContext& context, std::int64_t interval_ms);
  ~HealthChecker();
  void start();
  void stop();
  std::optional<std::int64_t> first_success_after_heal_ms() const { return first_success_after_heal_ms_; }

 private:
  void send_health();
  void tick();
  bool on_reply(std::string_view frame);
  RunContext& context_;
  std::int64_t interval_ms_;
  SimLogger log_;
  FramedClient client_;
  std::optional<std::int64_t> outstanding_since_ms_;
  sim::EventId timer_ = 0;
  bool stopped_ = false;
  std::optional<std::int64_t> first_success_after_heal_ms_;
};

class FaultInjector {
 public:
  FaultInjector(RunContext& context, Host& host, const FaultPlan& plan, std::uint32_t banker_count);
  ~FaultInjector();
  void start();
  // Stop injecting and heal everything now.
  void heal_now();
  // When each entry of the plan began (world time), or -1 for one that never did.
  const std::vector<std::int64_t>& entry_started_ms() const { return entry_started_ms_; }

 private:
  void next();
  void apply(const Fault& fault);
  // Waits (a bounded number of steps) for the host's worst moment, then lets
  // the reply that made it the worst moment reach its client, then strikes.
  void strike(const Fault& fault, std::int64_t waits_left);
  void flip_aimed(const Fault& fault);
  std::vector<std::string> targets(std::int64_t target) const;

  RunContext& context_;
  Host& host_;
  const FaultPlan& plan_;
  std::uint32_t banker_count_;
  SimLogger log_;
  std::size_t next_fault_ = 0;
  std::vector<std::int64_t> entry_started_ms_;
  sim::EventId timer_ = 0;
  std::vector<sim::EventId> heal_events_;
  bool healed_ = false;
  bool disk_faulted_ = false;
};

// Reads the whole ledger once every banker is done, and hands it to the model.
class Auditor {
 public:
  Auditor(RunContext& context, const Host& host);
  ~Auditor();
  void start();
  bool done() const { return done_; }

 private:
  void attempt();
  bool on_reply(std::string_view frame);
  void retry_later();
  RunContext& context_;
  const Host& host_;
  SimLogger log_;
  FramedClient client_;
  std::vector<std::string> replies_;
  sim::EventId timer_ = 0;
  bool done_ = false;
};

}  // namespace bank_sim
