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

// Installs throw_assertion for one run on its thread, and restores what was there.
class AssertionsEndTheRun {
 public:
  AssertionsEndTheRun() : previous_(bank::set_assert_handler_for_this_thread(&throw_assertion)) {}
  ~AssertionsEndTheRun() { bank::set_assert_handler_for_this_thread(previous_); }
  AssertionsEndTheRun(const AssertionsEndTheRun&) = delete;
  AssertionsEndTheRun& operator=(const AssertionsEndTheRun&) = delete;

 private:
  bank::AssertHandler previous_;
};

bank::BankServerConfig server_config(const Knobs& knobs) {
  bank::BankServerConfig config;
  config.address = "0.0.0.0";
  config.port = bank_port;
  config.journal_file = journal_file;
  // Timeouts stretch with the step, so that a run with hours per step still
  // lets a request cross the network before its connection counts as idle.
  config.idle_timeout_ms = std::max<std::int64_t>(knobs.parameters.idle_timeout_ms, 20 * knobs.step_ms);
  config.send_queue_bytes_max = static_cast<std::size_t>(knobs.parameters.send_queue_bytes_max);
  config.connections_max = static_cast<std::size_t>(knobs.parameters.connections_max);
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

RunResult run_simulation(const Plans& plans, const RunOptions& options) {
  const Knobs& knobs = plans.knobs;
  RunResult result;
  result.knobs = knobs;
  result.liveness_deadline_ms = std::max<std::int64_t>(60'000, 100 * knobs.step_ms);

  sim::World world(sim::mix64(knobs.seed ^ 0x776f726c64ULL), knobs.epoch_offset_ms, knobs.step_ms);
  world.keep_trace(options.keep_trace);
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
  sim::SimNetwork network(world, network_config);
  Model model(world);
  RunContext context{world,
                     network,
                     model,
                     result.stats,
                     options.log_level,
                     result.log,
                     knobs.step_ms,
                     result.liveness_deadline_ms,
                     std::nullopt};
  // Slow syncs, slow readers and backpressure stay well inside this; steps of hours stretch it.
  context.calm_answer_ms = std::max<std::int64_t>(10'000, 50 * knobs.step_ms);
  context.latency_ms_max = knobs.parameters.latency_ms_max;
  SimLogger log(world, "run", options.log_level, result.log);
  std::optional<TraceRecorder> recorder;
  if (options.record_timeline) {
    recorder.emplace(knobs.epoch_offset_ms);
    context.recorder = &*recorder;
  }

  Host host(context, server_config(knobs), disk_config(knobs.parameters));
  std::vector<std::unique_ptr<Banker>> bankers;
  for (std::uint32_t i = 0; i < knobs.banker_count; ++i) {
    bankers.push_back(
        std::make_unique<Banker>(context, host, i, plans.bankers[i], server_config(knobs).idle_timeout_ms));
  }
  HealthChecker health(context, plans.health_interval_ms);
  FaultInjector faults(context, host, plans.faults, knobs.banker_count);
  Auditor auditor(context);

  AssertionsEndTheRun assertions_end_the_run;
  bank::take_marks_for_this_thread();  // Marks of whatever ran before on this thread are not ours.
  try {
    host.start();
    for (auto& banker : bankers) banker->start();
    health.start();
    faults.start();

    const std::int64_t end_ms =
        knobs.duration_steps == 0
            ? INT64_MAX
            : knobs.epoch_offset_ms + static_cast<std::int64_t>(knobs.duration_steps) * knobs.step_ms;
    bool main_phase_over = false;
    bool liveness_checked = false;
    bool audit_started = false;
    while (!model.failed() && !auditor.done()) {
      if (!main_phase_over && world.next_event_ms() > end_ms) {
        // The step budget is spent: heal, let each banker finish what it started, audit.
        main_phase_over = true;
        result.duration_reached = true;
        log.info("duration of {} steps reached: healing, then finishing the requests in flight",
                 knobs.duration_steps);
        faults.heal_now();
        for (auto& banker : bankers) banker->stop_after_current();
      }
      if (!world.run_next(INT64_MAX)) {
        model.fail("liveness", "run", "nothing is left to happen, yet the run has not finished");
        break;
      }
      if (context.healed_at_ms && world.now_ms() >= std::max(*context.healed_at_ms, context.progress_at_ms) +
                                                        3 * result.liveness_deadline_ms) {
        // Long after the heal nothing has completed: the run stopped making
        // progress, and it ends here rather than hanging.
        std::string busy;
        for (auto& banker : bankers) {
          if (!banker->finished())
            busy += (busy.empty() ? "" : "; ") + banker->name() + ": " + banker->describe_state();
        }
        model.fail(
            "liveness", "run",
            fmt::format("nothing completed for {} ms after every fault healed; {}",
                        3 * result.liveness_deadline_ms,
                        busy.empty() ? "every banker is done, the audit is not" : "still busy: " + busy));
        break;
      }
      if (context.healed_at_ms && !liveness_checked &&
          world.now_ms() >= *context.healed_at_ms + result.liveness_deadline_ms) {
        liveness_checked = true;
        for (auto& banker : bankers) {
          if (banker->finished() || banker->first_completion_after_heal_ms()) continue;
          model.fail("liveness", banker->name(),
                     fmt::format("no interaction completed within {} ms after every fault healed (at +{} ms)",
                                 result.liveness_deadline_ms, *context.healed_at_ms - knobs.epoch_offset_ms));
        }
        if (!health.first_success_after_heal_ms()) {
          model.fail("liveness", "health",
                     fmt::format("no HEALTH answered within {} ms after every fault healed",
                                 result.liveness_deadline_ms));
        }
      }
      if (!audit_started && context.healed_at_ms) {
        bool all_finished = true;
        for (auto& banker : bankers) all_finished = all_finished && banker->finished();
        if (all_finished) {
          audit_started = true;
          auditor.start();
        }
      }
    }
  } catch (const AssertionBroken& broken) {
    // The simulated server (or the simulator) broke an invariant of its own:
    // the run ends here, and is reported, shrunk and replayed like any other.
    model.fail("assertion", "host", broken.evidence);
  }
  health.stop();
  result.marks = bank::take_marks_for_this_thread();
  for (auto& banker : bankers) result.banker_entry_started_ms.push_back(banker->entry_started_ms());
  result.fault_entry_started_ms = faults.entry_started_ms();

  if (context.healed_at_ms) {
    std::int64_t recovered_ms = 0;
    bool known = true;
    for (auto& banker : bankers) {
      if (auto at = banker->first_completion_after_heal_ms())
        recovered_ms = std::max(recovered_ms, *at - *context.healed_at_ms);
    }
    if (auto at = health.first_success_after_heal_ms()) {
      recovered_ms = std::max(recovered_ms, *at - *context.healed_at_ms);
    } else {
      known = false;
    }
    if (known) result.recovery_ms = recovered_ms;
  }
  result.failure = model.failure();
  if (recorder) {
    if (result.failure) {
      recorder->instant("checker", "FAIL: " + result.failure->invariant, result.failure->time_ms,
                        result.failure->actor + ": " + result.failure->evidence);
    } else {
      recorder->instant("checker", "PASS", world.now_ms());
    }
    result.timeline_json = recorder->json();
  }
  result.steps = world.steps();
  result.simulated_ms = world.now_ms() - world.start_ms();
  result.events = world.events_run();
  result.acknowledged_writes = model.acknowledged_writes();
  result.trace_hash = world.trace_hash();
  if (options.keep_trace) result.trace_lines = world.trace_lines();
  return result;
}

}  // namespace bank_sim
