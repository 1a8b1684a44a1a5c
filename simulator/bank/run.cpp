#include "run.hpp"

#include <fmt/format.h>

#include "banker.hpp"

namespace bank_sim {

namespace {

// Thrown by the assertion handler a run installs: a broken assertion in the
// simulated server is a finding of that run, not the end of the sweep.
struct AssertionBroken {
  std::string evidence;
};

[[noreturn]] void throw_assertion(const char* condition, const char* file, int line, const char* message) {
  throw AssertionBroken{fmt::format("assertion failed: {} at {}:{}{}", condition, file, line,
                                    message != nullptr ? fmt::format(" ({})", message) : std::string())};
}

bank::BankServerConfig server_config(const Knobs& knobs) {
  bank::BankServerConfig config;
  config.address = "0.0.0.0";
  config.port = bank_port;
  config.journal_file = journal_file;
  // Timeouts stretch with the step, so that a run with hours per step still
  // lets a request cross the network before its connection counts as idle.
  config.idle_timeout_ms = std::max<std::int64_t>(knobs.parameters.idle_timeout_ms, 20 * knobs.step_ms);
  config.send_queue_bytes_max = static_cast<std::size_t>(knobs.parameters.send_queue_bytes_max);
  config.group_commit_hold_ms = knobs.parameters.group_commit_hold_ms;
  config.connections_max = static_cast<std::size_t>(knobs.parameters.connections_max);
  config.requests_in_flight_max = static_cast<std::size_t>(knobs.parameters.requests_in_flight_max);
  return config;
}

sim::DiskConfig disk_config(const Parameters& p) {
  sim::DiskConfig config;
  config.append_latency_ms_max = p.append_latency_ms_max;
  config.sync_latency_ms_min = p.sync_latency_ms_min;
  config.sync_latency_ms_max = p.sync_latency_ms_max;
  return config;
}

}  // namespace

const char* describe(Run::Phase phase) {
  switch (phase) {
    case Run::Phase::safety:
      return "safety (faults injected)";
    case Run::Phase::liveness:
      return "liveness (healed; the bankers finish)";
    case Run::Phase::audit:
      return "audit (the whole ledger is read)";
    case Run::Phase::over:
      return "over";
  }
  return "?";
}

Run::Run(const Plans& plans, const RunOptions& options) : plans_(plans), options_(options) {
  const Knobs& knobs = plans_.knobs;
  result_.knobs = knobs;
  result_.liveness_deadline_ms = std::max<std::int64_t>(60'000, 100 * knobs.step_ms);
  world_ = std::make_unique<sim::World>(sim::mix64(knobs.seed ^ 0x776f726c64ULL), knobs.epoch_offset_ms,
                                        knobs.step_ms);
  world_->keep_trace(options.keep_trace);
  world_->trace_storage(options.trace_storage);
  sim::NetworkConfig network_config;
  network_config.latency_ms_min = knobs.parameters.latency_ms_min;
  network_config.latency_ms_max = knobs.parameters.latency_ms_max;
  network_config.pieces_per_send_max = static_cast<std::size_t>(knobs.parameters.pieces_per_send_max);
  network_config.window_bytes = static_cast<std::size_t>(knobs.parameters.window_bytes);
  // A stalled stream resets after a while, in time and in steps.
  network_config.partition_reset_ms =
      std::max<std::int64_t>(network_config.partition_reset_ms, 20 * knobs.step_ms);
  network_config.connect_timeout_ms =
      std::max<std::int64_t>(network_config.connect_timeout_ms, 10 * knobs.step_ms);
  network_ = std::make_unique<sim::SimNetwork>(*world_, network_config);
  model_ = std::make_unique<Model>(*world_);
  events_ = std::make_unique<RunEvents>(*world_, options.log_level, result_.log);
  if (options.record_timeline) events_->record_timeline(knobs.epoch_offset_ms);
  context_ = std::make_unique<RunContext>(RunContext{*world_, *network_, *model_, result_.stats,
                                                     options.log_level, result_.log, *events_, knobs.step_ms,
                                                     result_.liveness_deadline_ms, std::nullopt});
  // Slow syncs, slow readers and backpressure stay well inside this; steps of hours stretch it.
  context_->calm_answer_ms = std::max<std::int64_t>(10'000, 50 * knobs.step_ms);
  context_->latency_ms_max = knobs.parameters.latency_ms_max;
  log_ = std::make_unique<SimLogger>(*world_, "run", options.log_level, result_.log);
  host_ = std::make_unique<Host>(*context_, server_config(knobs), disk_config(knobs.parameters));
  for (std::uint32_t i = 0; i < knobs.banker_count; ++i) {
    bankers_.push_back(std::make_unique<Banker>(*context_, *host_, i, plans_.bankers[i],
                                                server_config(knobs).idle_timeout_ms));
  }
  health_ = std::make_unique<HealthChecker>(*context_, plans_.health_interval_ms);
  faults_ = std::make_unique<FaultInjector>(*context_, *host_, plans_.faults, knobs.banker_count);
  auditor_ = std::make_unique<Auditor>(*context_, *host_);
  end_ms_ = knobs.duration_steps == 0
                ? INT64_MAX
                : knobs.epoch_offset_ms + static_cast<std::int64_t>(knobs.duration_steps) * knobs.step_ms;
  // A broken assertion in the simulated server ends this run, not the sweep.
  previous_assert_handler_ = bank::set_assert_handler_for_this_thread(&throw_assertion);
  bank::take_marks_for_this_thread();  // Marks of whatever ran before on this thread are not ours.
  try {
    host_->start();
    for (auto& banker : bankers_) banker->start();
    health_->start();
    faults_->start();
  } catch (const AssertionBroken& broken) {
    model_->fail("assertion", "host", broken.evidence);
    phase_ = Phase::over;
  }
}

Run::~Run() {
  // The actors go first (they hold the world's events and the network's connections).
  auditor_.reset();
  faults_.reset();
  health_.reset();
  bankers_.clear();
  host_.reset();
  bank::set_assert_handler_for_this_thread(previous_assert_handler_);
}

bool Run::step() {
  if (phase_ == Phase::over) return false;
  try {
    // Whatever the phase (a calm run heals at once), the step budget ends the run's traffic once.
    if (!result_.duration_reached && world_->next_event_ms() > end_ms_) {
      // The step budget is spent: heal, let each banker finish what it started, audit.
      result_.duration_reached = true;
      log_->info("duration of {} steps reached: healing, then finishing the requests in flight",
                 plans_.knobs.duration_steps);
      faults_->heal_now();
      for (auto& banker : bankers_) banker->stop_after_current();
    }
    for (const Branch& b : plans_.branches) {
      if (world_->events_run() == b.at_event)
        world_->branch(b.seed);  // A later branch replaces an earlier one.
    }
    if (!world_->run_next(INT64_MAX)) {
      model_->fail("liveness", "run", "nothing is left to happen, yet the run has not finished");
    } else {
      end_if_time_stands_still();
      check_phases();
    }
  } catch (const AssertionBroken& broken) {
    // The simulated server (or the simulator) broke an invariant of its own:
    // the run ends here, and is reported, shrunk and replayed like any other.
    model_->fail("assertion", "host", broken.evidence);
  }
  if (model_->failed() || auditor_->done()) phase_ = Phase::over;
  return phase_ != Phase::over;
}

void Run::check_phases() {
  if (phase_ == Phase::safety && context_->healed_at_ms) phase_ = Phase::liveness;
  if (phase_ == Phase::safety) return;
  end_if_stuck();
  check_liveness_deadline();
  if (phase_ == Phase::liveness) {
    // A banker that finished stays finished: look on from the first that had not.
    while (unfinished_from_ < bankers_.size() && bankers_[unfinished_from_]->finished()) ++unfinished_from_;
    if (unfinished_from_ == bankers_.size()) {
      phase_ = Phase::audit;
      auditor_->start();
    }
  }
}

// Events that schedule one another at once, forever, stop simulated time: no
// deadline is ever reached, and the run would spin without end. A moment
// holds a few events per actor (at most 3,627 seen, with 1,000 bankers); a
// hundred thousand is a livelock.
void Run::end_if_time_stands_still() {
  constexpr std::uint64_t events_at_one_moment_max = 100'000;
  if (world_->now_ms() != moment_ms_) {
    moment_ms_ = world_->now_ms();
    moment_events_ = 0;
  }
  if (++moment_events_ <= events_at_one_moment_max) return;
  std::string due;
  for (const auto& [due_ms, kind] : world_->pending(5))
    due +=
        fmt::format("{}{} at +{} ms", due.empty() ? "" : ", ", kind, due_ms - plans_.knobs.epoch_offset_ms);
  model_->fail(
      "liveness", "run",
      fmt::format("{} events ran at one simulated moment (+{} ms) and time never moved on: a livelock "
                  "(something that schedules itself at once, forever); next due: {}",
                  moment_events_ - 1, moment_ms_ - plans_.knobs.epoch_offset_ms, due));
}

// Long after the heal nothing has completed: the run stopped making progress,
// and it ends here rather than hanging.
void Run::end_if_stuck() {
  if (world_->now_ms() <
      std::max(*context_->healed_at_ms, context_->progress_at_ms) + 3 * result_.liveness_deadline_ms) {
    return;
  }
  std::string busy;
  for (auto& banker : bankers_) {
    if (!banker->finished())
      busy += (busy.empty() ? "" : "; ") + banker->name() + ": " + banker->describe_state();
  }
  model_->fail("liveness", "run",
               fmt::format("nothing completed for {} ms after every fault healed; {}",
                           3 * result_.liveness_deadline_ms,
                           busy.empty() ? "every banker is done, the audit is not" : "still busy: " + busy));
}

// Once the deadline after the heal has passed, every actor must have succeeded.
void Run::check_liveness_deadline() {
  if (liveness_checked_ || world_->now_ms() < *context_->healed_at_ms + result_.liveness_deadline_ms) return;
  liveness_checked_ = true;
  for (auto& banker : bankers_) {
    if (banker->finished() || banker->first_completion_after_heal_ms()) continue;
    model_->fail(
        "liveness", banker->name(),
        fmt::format("no interaction completed within {} ms after every fault healed (at +{} ms)",
                    result_.liveness_deadline_ms, *context_->healed_at_ms - plans_.knobs.epoch_offset_ms));
  }
  if (!health_->first_success_after_heal_ms()) {
    model_->fail("liveness", "health",
                 fmt::format("no HEALTH answered within {} ms after every fault healed",
                             result_.liveness_deadline_ms));
  }
}

RunResult Run::finish() {
  health_->stop();
  RunResult result = std::move(result_);
  result_ = RunResult{};
  result.marks = bank::take_marks_for_this_thread();
  for (auto& banker : bankers_) result.banker_entry_started_ms.push_back(banker->entry_started_ms());
  result.fault_entry_started_ms = faults_->entry_started_ms();
  if (context_->healed_at_ms) {
    std::int64_t recovered_ms = 0;
    bool known = true;
    for (auto& banker : bankers_) {
      if (auto at = banker->first_completion_after_heal_ms())
        recovered_ms = std::max(recovered_ms, *at - *context_->healed_at_ms);
    }
    if (auto at = health_->first_success_after_heal_ms()) {
      recovered_ms = std::max(recovered_ms, *at - *context_->healed_at_ms);
    } else {
      known = false;
    }
    if (known) result.recovery_ms = recovered_ms;
  }
  result.failure = model_->failure();
  if (result.failure) {
    events_->verdict_failed(result.failure->invariant, result.failure->time_ms,
                            result.failure->actor + ": " + result.failure->evidence);
  } else {
    events_->verdict_passed();
  }
  if (auto timeline = events_->timeline_json()) result.timeline_json = std::move(*timeline);
  result.steps = world_->steps();
  result.simulated_ms = world_->now_ms() - world_->start_ms();
  result.events = world_->events_run();
  result.acknowledged_writes = model_->acknowledged_writes();
  result.trace_hash = world_->trace_hash();
  if (options_.keep_trace) result.trace_lines = world_->trace_lines();
  return result;
}

RunResult run_simulation(const Plans& plans, const RunOptions& options) {
  Run run(plans, options);
  while (run.step()) {
  }
  return run.finish();
}

}  // namespace bank_sim
