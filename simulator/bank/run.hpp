#pragma once
// One simulation run: a pure function of its plans (which hold the seed and
// knobs). Same plans, same bytes out.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors.hpp"
#include "bank/coverage.hpp"
#include "bank/log.hpp"
#include "banker.hpp"
#include "model.hpp"
#include "plan.hpp"

namespace bank_sim {

struct RunOptions {
  bank::LogLevel log_level = bank::LogLevel::warn;
  bool keep_trace = false;       // Keep every trace line, to name the first difference between two runs.
  bool record_timeline = false;  // Record the run as Perfetto/Chrome trace JSON.
  // With keep_trace: trace syncs, failed disk operations and what a crash
  // leaves in the page cache too (a failure's story, the debugger).
  bool trace_storage = false;
};

struct RunResult {
  Knobs knobs;
  std::optional<Failure> failure;
  std::uint64_t steps = 0;
  std::int64_t simulated_ms = 0;
  std::uint64_t events = 0;
  RunStats stats;
  std::uint64_t acknowledged_writes = 0;
  std::int64_t liveness_deadline_ms = 0;
  std::optional<std::int64_t> recovery_ms;  // From the heal to the last actor's first success.
  bool duration_reached = false;
  std::uint64_t trace_hash = 0;
  std::vector<std::string> trace_lines;
  std::string log;
  std::string timeline_json;
  bank::MarkCounts marks{};
  // When each entry of each plan began (world time; -1: never): per banker, and the fault plan's.
  std::vector<std::vector<std::int64_t>> banker_entry_started_ms;
  std::vector<std::int64_t>
      fault_entry_started_ms;  // How often the run passed each of the server's coverage marks.
  bool passed() const { return !failure.has_value(); }
};

// One run, as an object that can be stepped one event at a time (the
// debugger does; run_simulation runs it to the end). It owns the world, the
// network, the model and every actor, and moves through explicit phases:
//   safety    faults are injected; every reply is checked;
//   liveness  every fault has healed: each actor must succeed within the
//             deadline, and the bankers finish their plans;
//   audit     the auditor reads the whole ledger once, for the model;
//   over      the run has ended (passed, or failed an invariant).
class Run {
 public:
  enum class Phase { safety, liveness, audit, over };

  // `plans` must outlive the run: it is read, not copied (an hour's plan is megabytes).
  Run(const Plans& plans, const RunOptions& options);
  ~Run();
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  // Runs one event (and the phase checks after it); false once the run is over.
  bool step();
  Phase phase() const { return phase_; }
  // The results; call once the run is over (a run cut short reports what it reached).
  RunResult finish();

  // What the debugger shows.
  const Plans& plans() const { return plans_; }
  sim::World& world() { return *world_; }
  sim::SimNetwork& network() { return *network_; }
  Model& model() { return *model_; }
  Host& host() { return *host_; }
  const std::vector<std::unique_ptr<Banker>>& bankers() const { return bankers_; }
  FaultInjector& faults() { return *faults_; }

 private:
  void check_phases();
  void check_liveness_deadline();
  void end_if_stuck();
  void end_if_time_stands_still();

  const Plans& plans_;
  RunOptions options_;
  RunResult result_;
  Phase phase_ = Phase::safety;
  std::int64_t end_ms_ = INT64_MAX;
  bool liveness_checked_ = false;
  std::size_t unfinished_from_ = 0;  // Every banker before this index has finished.
  std::int64_t moment_ms_ = -1;      // The simulated moment of the last event run...
  std::uint64_t moment_events_ = 0;  // ...and how many have run at it.
  std::unique_ptr<sim::World> world_;
  std::unique_ptr<sim::SimNetwork> network_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<RunContext> context_;
  std::unique_ptr<SimLogger> log_;
  std::unique_ptr<RunEvents> events_;
  std::unique_ptr<Host> host_;
  std::vector<std::unique_ptr<Banker>> bankers_;
  std::unique_ptr<HealthChecker> health_;
  std::unique_ptr<FaultInjector> faults_;
  std::unique_ptr<Auditor> auditor_;
  bank::AssertHandler previous_assert_handler_ = nullptr;
};

const char* describe(Run::Phase phase);

RunResult run_simulation(const Plans& plans, const RunOptions& options);

}  // namespace bank_sim
