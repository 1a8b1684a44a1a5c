#include "run_one.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <vector>

#include "bank/planted_bugs.hpp"
#include "debug/tools.hpp"
#include "plan_file.hpp"
#include "run.hpp"
#include "shrink.hpp"
#include "summary.hpp"

namespace bank_sim::sweep {

namespace {

// Set before each run on the thread that runs it, read only by the SIGABRT
// handler: if the bank aborts on a failed assertion, the user still gets the
// command that replays the run.
thread_local char crash_replay_line[512] = "";

extern "C" void report_abort(int) {
  const std::size_t length = std::strlen(crash_replay_line);
  if (length > 0) {
    (void)!::write(STDERR_FILENO, crash_replay_line, length);
  }
  ::signal(SIGABRT, SIG_DFL);
  ::raise(SIGABRT);
}

std::string run_title(const Settings& settings, std::uint64_t index) {
  if (!settings.runs_bounded) return fmt::format("run {}", index + 1);
  return fmt::format("run {}/{}", index + 1, settings.runs);
}

// What a replay says when its plan came from another build than this one.
std::string build_note(const Settings& settings, const Plans& plans) {
  if (!settings.replay) return {};
  if (plans.build.empty())
    return "  note: the plan does not say which build it came from (a file from before plans named it)\n";
  if (plans.build == build_name()) return {};
  return fmt::format(
      "  note: the plan came from build '{}' (dst_demo_server_simulator{}), and this is build '{}': its "
      "run of the plan may differ\n",
      plans.build, plans.build == "normal" ? "" : "_" + plans.build, build_name());
}

std::string header(const Settings& settings, std::uint64_t index, const Plans& plans) {
  const Knobs& k = plans.knobs;
  return fmt::format(
             "{} seed={}\n"
             "  knobs: duration={} steps, step_multiplier={} ms, epoch_offset={} ms ({}; {}), bankers={}, "
             "interactions/banker={}\n"
             "  parameters: {}\n"
             "  faults: {}; {} faults planned, {} interactions planned\n",
             run_title(settings, index), k.seed,
             k.duration_steps == 0 ? std::string("unbounded") : std::to_string(k.duration_steps), k.step_ms,
             k.epoch_offset_ms, format_utc(k.epoch_offset_ms / 1000), k.epoch_offset_reason, k.banker_count,
             k.interactions_per_banker, describe_parameters(k.parameters), describe_swarm(k.swarm),
             count_faults(plans), count_interactions(plans)) +
         build_note(settings, plans);
}

std::string plan_text(const Plans& plans) {
  std::string out;
  for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
    out += fmt::format("  plan banker{}:", b);
    for (const auto& i : plans.bankers[b].interactions) out += " " + describe_interaction(i) + ";";
    out += "\n";
  }
  out += "  plan faults:";
  for (const auto& f : plans.faults.faults) out += " " + describe_fault(f) + ";";
  out += "\n";
  return out;
}

std::string footer(const RunResult& r, double wall_s) {
  std::string out;
  if (r.passed()) {
    out += "  verdict: PASS\n";
  } else {
    const auto& f = *r.failure;
    out += fmt::format(
        "  verdict: FAIL: invariant '{}' broken, seen by {} at +{} ({} ms since the epoch, step {})\n",
        f.invariant, f.actor, format_duration_ms(f.time_ms - r.knobs.epoch_offset_ms), f.time_ms, f.step);
    out += fmt::format("  evidence: {}\n", f.evidence);
  }
  const double simulated_s = static_cast<double>(r.simulated_ms) / 1e3;
  out += fmt::format(
      "  stats: steps={} simulated={} events={} interactions={} requests={} retries={} "
      "acknowledged_writes={} "
      "faults={} crashes={} power_losses={} corruptions={} refused_after_corruption={}{}{}\n",
      r.steps, format_duration_ms(r.simulated_ms), r.events, r.stats.interactions_done, r.stats.requests_sent,
      r.stats.retries, r.acknowledged_writes, r.stats.faults_injected, r.stats.crashes, r.stats.power_losses,
      r.stats.corruptions, r.stats.refusals_after_corruption,
      r.recovery_ms ? fmt::format(" recovery={} (deadline {})", format_duration_ms(*r.recovery_ms),
                                  format_duration_ms(r.liveness_deadline_ms))
                    : std::string(),
      r.duration_reached ? " (duration reached)" : "");
  out += fmt::format("  wall: {:.3f} s, {:.0f}x real time, {:.0f} interactions/s\n", wall_s,
                     wall_s > 0 ? simulated_s / wall_s : 0.0,
                     wall_s > 0 ? static_cast<double>(r.stats.interactions_done) / wall_s : 0.0);
  return out;
}

// The last lines of a failing run's log at debug level: what led up to it.
std::string failure_context(const Plans& plans, std::size_t lines_max) {
  RunOptions options;
  options.log_level = bank::LogLevel::debug;
  const RunResult rerun = run_simulation(plans, options);
  std::vector<std::string_view> lines;
  std::string_view log = rerun.log;
  while (!log.empty()) {
    const auto newline = log.find('\n');
    lines.push_back(log.substr(0, newline));
    log = newline == std::string_view::npos ? std::string_view{} : log.substr(newline + 1);
  }
  std::string out = fmt::format("  the last {} log lines before the failure (debug level):\n",
                                std::min(lines.size(), lines_max));
  for (std::size_t i = lines.size() > lines_max ? lines.size() - lines_max : 0; i < lines.size(); ++i) {
    out += "  ";
    out += lines[i];
    out += "\n";
  }
  return out;
}

// Which kinds of steps a minimal plan holds, without their values, counts or
// order ("create, void; faults: power_loss"): seeds of one bug tend to shrink
// to one shape. Sleeps and pipeline marks are how, not what.
std::string story_shape(const Plans& plans) {
  std::set<std::string> ops;
  for (const auto& banker : plans.bankers) {
    for (const auto& i : banker.interactions) {
      if (i.op != BankerOp::sleep && i.op != BankerOp::pipeline) ops.insert(describe(i.op));
    }
  }
  std::set<std::string> faults;
  for (const auto& f : plans.faults.faults) {
    if (f.op != FaultOp::sleep) faults.insert(describe(f.op));
  }
  const auto list = [](const std::set<std::string>& names) {
    return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
  };
  return fmt::format("[{}; faults: {}]", list(ops), list(faults));
}

std::string shrink_report(const Settings& settings, const Plans& plans, const Failure& failure,
                          RunRecord& record) {
  const auto shrunk = shrink(plans, failure.invariant, settings.shrink_budget);
  const std::uint64_t seed = plans.knobs.seed;
  std::string out = fmt::format(
      "  shrunk: {} interactions and faults (of {} bankers) down to {} (of {}) in {} runs{}; the minimal "
      "story:\n",
      plan_size(plans), plans.bankers.size(), plan_size(shrunk.minimal), shrunk.minimal.bankers.size(),
      shrunk.runs, shrunk.budget_spent ? " (budget spent)" : ", a fixed point");
  record.story = tell_story(shrunk.result);
  record.shape = story_shape(shrunk.minimal);
  record.shrunk_size = plan_size(shrunk.minimal);
  out += record.story;
  // Named by build and seed, so that two builds' failures of one seed keep apart.
  std::string base = fmt::format("{}/dst_demo_failure_{}_{}", settings.failures_dir, build_name(), seed);
  std::string error;
  std::error_code ec;
  std::filesystem::create_directories(settings.failures_dir, ec);
  // Shrinking a replayed minimal plan again never overwrites the file replayed.
  if (settings.replay && std::filesystem::equivalent(base + ".plan", settings.replay_file, ec))
    base += "_again";
  if (write_file(base + ".plan", format_plan_file(shrunk.minimal), error) &&
      write_file(base + ".trace.json", shrunk.result.timeline_json, error)) {
    record.minimal_plan = base + ".plan";
    out += fmt::format(
        "  minimal plan saved: {}.plan, its timeline: {}.trace.json (open it in ui.perfetto.dev)\n", base,
        base);
    out += fmt::format("  replay the minimal plan: {} --replay {}.plan\n", settings.program, base);
  } else {
    out += "  error: " + error + "\n";
    record.output_failed = true;
  }
  return out;
}

std::string check_determinism(const Plans& plans, const RunOptions& options, RunResult& result) {
  const RunResult again = run_simulation(plans, options);
  if (again.trace_hash == result.trace_hash && again.trace_lines == result.trace_lines) {
    return fmt::format("  determinism: same trace twice ({} events, hash {:016x})\n",
                       result.trace_lines.size(), result.trace_hash);
  }
  std::size_t i = 0;
  while (i < result.trace_lines.size() && i < again.trace_lines.size() &&
         result.trace_lines[i] == again.trace_lines[i]) {
    ++i;
  }
  const std::string first = i < result.trace_lines.size() ? result.trace_lines[i] : "<end of trace>";
  const std::string second = i < again.trace_lines.size() ? again.trace_lines[i] : "<end of trace>";
  result.failure = Failure{"determinism", "simulator", 0, 0,
                           fmt::format("the same seed ran twice differently: trace hashes {:016x} and "
                                       "{:016x}; first difference at event {}: `{}` vs `{}`",
                                       result.trace_hash, again.trace_hash, i, first, second)};
  return {};
}

RunRecord record_of(const Settings& settings, std::uint64_t index, const Plans& plans) {
  RunRecord record;
  record.index = index;
  record.seed = plans.knobs.seed;
  record.planted_bug = bank::planted_bugs::names();
  record.duration_steps = plans.knobs.duration_steps;
  record.step_ms = plans.knobs.step_ms;
  record.epoch_offset_ms = plans.knobs.epoch_offset_ms;
  record.bankers = plans.knobs.banker_count;
  record.interactions_per_banker = plans.knobs.interactions_per_banker;
  record.fault_kinds = swarm_kinds(plans.knobs.swarm);
  record.replay = replay_command(settings, plans.knobs.seed);
  return record;
}

// The files the first run of a sweep writes when asked: its plan, its event log.
std::string first_run_files(const Settings& settings, const Plans& plans, RunRecord& record) {
  std::string report;
  if (!settings.save_plan.empty()) {
    std::string error;
    if (write_file(settings.save_plan, format_plan_file(plans), error)) {
      report += fmt::format("  plan saved: {} (run it with: {} --replay {})\n", settings.save_plan,
                            settings.program, settings.save_plan);
    } else {
      report += "  error: --save-plan: " + error + "\n";
      record.output_failed = true;
    }
  }
  if (!settings.events_file.empty()) {
    std::string error;
    if (write_file(settings.events_file, debug::event_log(plans), error)) {
      report += fmt::format("  event log saved: {} (compare runs with --diff)\n", settings.events_file);
    } else {
      report += "  error: --events: " + error + "\n";
      record.output_failed = true;
    }
  }
  return report;
}

}  // namespace

std::uint64_t run_seed(std::uint64_t initial_seed, std::uint64_t index) {
  return index == 0 ? initial_seed : sim::mix64(initial_seed + index);
}

Plans plans_of_run(const Settings& settings, std::uint64_t index) {
  if (settings.replay) return *settings.replay;
  return generate_plans(draw_knobs(run_seed(*settings.seed, index), settings.overrides));
}

std::string replay_command(const Settings& settings, std::uint64_t seed) {
  if (settings.replay) return fmt::format("{} --replay {}", settings.program, settings.replay_file);
  std::string command = fmt::format("SIMULATOR_SEED={} SIMULATOR_RUNS=1", seed);
  const auto& o = settings.overrides;
  if (o.duration_steps) command += fmt::format(" SIMULATOR_DURATION={}", *o.duration_steps);
  if (o.step_ms) command += fmt::format(" SIMULATOR_STEP_MULTIPLIER={}", *o.step_ms);
  if (o.epoch_offset_ms) command += fmt::format(" SIMULATOR_EPOCH_OFFSET={}", *o.epoch_offset_ms);
  if (o.banker_count) command += fmt::format(" SIMULATOR_BANKER_COUNT={}", *o.banker_count);
  return command + " " + settings.program;
}

Outcome run_one(const Settings& settings, std::uint64_t index) {
  const Plans plans = plans_of_run(settings, index);
  const std::uint64_t seed = plans.knobs.seed;
  Outcome outcome;
  RunRecord& record = outcome.record;
  record = record_of(settings, index, plans);
  outcome.report = header(settings, index, plans);
  if (settings.print_plan) outcome.report += plan_text(plans);
  RunOptions options;
  options.log_level = settings.log_level;
  options.keep_trace = settings.check_determinism || settings.hash_event_log;
  options.record_timeline = index == 0 && !settings.timeline.empty();
  if (index == 0) outcome.report += first_run_files(settings, plans, record);
  fmt::format_to_n(
      crash_replay_line, sizeof crash_replay_line - 1,
      "dst_demo_server_simulator: run {} (seed={}) aborted: the bank broke an assertion (above).\n"
      "  replay: {}\n{}",
      index + 1, seed, record.replay, '\0');
  const double wall_start = settings.real.wall_seconds();
  RunResult result = run_simulation(plans, options);
  record.wall_s = settings.real.wall_seconds() - wall_start;
  if (settings.run_ended) settings.run_ended();
  outcome.report += result.log;
  if (options.record_timeline) {
    std::string error;
    if (write_file(settings.timeline, result.timeline_json, error)) {
      outcome.report += fmt::format("  timeline saved: {} (open it in ui.perfetto.dev)\n", settings.timeline);
    } else {
      outcome.report += "  error: --trace: " + error + "\n";
      record.output_failed = true;
    }
  }
  if (settings.check_determinism) outcome.report += check_determinism(plans, options, result);
  outcome.report += footer(result, record.wall_s);
  if (!result.passed()) {
    const bool can_shrink = result.failure->invariant != "determinism";
    // The log lines that led up to the failure, unless the run's own log
    // (debug or trace) already showed them; then the shrunk story.
    if (can_shrink && settings.log_level > bank::LogLevel::debug) {
      outcome.report += failure_context(plans, settings.failure_log_lines);
    }
    if (can_shrink && settings.shrink)
      outcome.report += shrink_report(settings, plans, *result.failure, record);
    outcome.report += fmt::format("  replay: {}\n", record.replay);
    if (settings.replay && !settings.shrink && can_shrink)
      outcome.report += fmt::format("  shrink it again: {} --shrink\n", record.replay);
    record.passed = false;
    record.invariant = result.failure->invariant;
    record.evidence = result.failure->evidence;
    record.failed_at_ms = result.failure->time_ms;
  }
  record.steps = result.steps;
  record.simulated_ms = result.simulated_ms;
  record.interactions = result.stats.interactions_done;
  record.faults = result.stats.faults_injected;
  record.recovery_ms = result.recovery_ms;
  record.marks = result.marks;
  record.trace_hash = result.trace_hash;
  return outcome;
}

namespace {

Outcome lost_process_outcome(const Settings& settings, std::uint64_t index, const std::string& invariant,
                             const std::string& evidence, const std::string& note) {
  const Plans plans = plans_of_run(settings, index);
  Outcome outcome;
  outcome.record = record_of(settings, index, plans);
  outcome.record.passed = false;
  outcome.record.invariant = invariant;
  outcome.record.evidence = evidence;
  outcome.record.replay += " --no-isolation";
  outcome.report = header(settings, index, plans) +
                   fmt::format("  verdict: FAIL: invariant '{}' broken: {} ({}); not shrunk\n", invariant,
                               evidence, note) +
                   fmt::format("  replay: {}\n", outcome.record.replay);
  return outcome;
}

}  // namespace

Outcome died_outcome(const Settings& settings, std::uint64_t index, const std::string& how) {
  return lost_process_outcome(settings, index, "crash", fmt::format("the run's process {}", how),
                              "its last words are on stderr above");
}

Outcome hung_outcome(const Settings& settings, std::uint64_t index, double seconds) {
  return lost_process_outcome(
      settings, index, "hang",
      fmt::format("the run's process was still running after {:g} s of wall time, and was killed", seconds),
      "a run takes milliseconds: most likely an endless loop inside one event, which no simulated clock "
      "sees; the replay hangs the same way, so attach a debugger to it");
}

void report_aborts() {
  ::signal(SIGABRT, report_abort);
}

bool write_file(const std::string& path, const std::string& text, std::string& error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    error = fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    return false;
  }
  out << text;
  out.close();
  if (!out) {
    error = fmt::format("cannot write '{}' (wrote part of it; the disk may be full)", path);
    return false;
  }
  return true;
}

std::optional<std::string> output_path_problem(const std::string& path) {
  std::error_code ec;
  if (path.empty()) return "is empty";
  if (std::filesystem::is_directory(path, ec))
    return fmt::format("'{}' is a directory; name a file in it", path);
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    return fmt::format("'{}': the directory '{}' does not exist", path, parent.string());
  }
  return std::nullopt;
}

}  // namespace bank_sim::sweep
