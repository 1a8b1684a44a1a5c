#pragma once
// What a sweep was asked to do: read from flags and environment variables by
// main.cpp, used by the sweep driver.
//
// simulator/sweep/ is the driver around the runs: it forks a child process
// per run, handles SIGINT and writes files; the wall clock and threads it
// uses come from main.cpp (RealWorld). Each run inside stays a pure function
// of its plans.

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "bank/log.hpp"
#include "plan.hpp"
#include "shrink.hpp"

namespace bank_sim::sweep {

// What a sweep needs of the real world, handed in by main.cpp, the one place
// in simulator/ that touches it: a wall clock (for wall times, the progress
// line and --time-budget) and threads (for --no-isolation).
struct RealWorld {
  std::function<double()> wall_seconds;  // Seconds on a monotonic clock.
  // Runs `work` on `threads` threads at once; returns once every one has returned.
  std::function<void(std::uint32_t threads, const std::function<void()>& work)> run_on_threads;
};

// Shard `index` of `count` takes the runs whose index is congruent to it
// modulo `count`: N shards together run exactly the runs of one sweep.
struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
  std::string source;  // Where it was read from: "--shard", "SLURM_ARRAY_TASK_ID", ...
};

inline constexpr std::uint64_t runs_max = 100'000'000'000ULL;  // --runs; a campaign's bound.
inline constexpr std::uint64_t shard_count_max = 1'000'000;    // --shard I/N.
inline constexpr double progress_line_period_s = 30;           // Without a terminal.
inline constexpr double progress_refresh_s = 0.25;             // On a terminal.

// Wall seconds after which a run is taken for hung (see Settings::run_timeout_s).
inline constexpr double run_timeout_s_default = 30;
// A failing run's shrink replays it up to shrink_budget times: it gets this
// many times the run's bound, from the moment the run itself ended.
inline constexpr double shrink_timeout_runs = 20;

struct Settings {
  std::optional<std::uint64_t> seed;
  KnobOverrides overrides;
  std::uint64_t runs = 300;  // About a second on two cores: every coverage mark, most zoo bugs.
  bool runs_bounded = true;  // False for a campaign without --runs: its budget ends it.
  std::uint32_t max_parallel = 0;
  bank::LogLevel log_level = bank::LogLevel::off;
  bool check_determinism = false;
  bool hash_event_log = false;  // Fold every run's whole event log into its record's trace_hash.
  bool print_plan = false;
  std::size_t failure_log_lines = 40;
  bool shrink = true;
  bool isolate = true;  // Each run in a child process, so that a crash ends that run alone.
  bool quiet = false;   // Print the reports of failing runs only.
  std::size_t shrink_budget = shrink_budget_default;
  std::string failures_dir = "simulator_failures";
  std::string save_plan;        // The first run's plan goes here.
  std::string timeline;         // The first run's Perfetto trace goes here.
  std::optional<Plans> replay;  // Run this plan instead of drawing one.
  std::string replay_file;
  std::string report_json;  // One JSON record per run, then the summary.
  std::string events_file;  // The first run's event log (for --diff).
  Shard shard;
  std::optional<double> time_budget_s;          // Start no run after this much wall time.
  std::optional<std::uint64_t> until_failures;  // Start no run after this many failures.
  // A run still going after this much wall time is killed and reported as a
  // hang (runs take milliseconds: an endless loop inside one event, most
  // likely, which no simulated clock can see). Needs process isolation.
  double run_timeout_s = run_timeout_s_default;
  // Called once a run has ended, before its failure is shrunk: a child
  // process tells its parent, whose bound on the run then stops counting.
  std::function<void()> run_ended;
  std::string program;  // argv[0], for replay commands.
  RealWorld real;
};

// Exit status when a file the user asked for (--save-plan, --trace,
// --report-json, a shrunk failure) could not be written.
inline constexpr int output_error_exit = 3;
// Exit status of a sweep ended by SIGINT with no failing run.
inline constexpr int interrupted_exit = 130;

}  // namespace bank_sim::sweep
