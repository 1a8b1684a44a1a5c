// dst_demo_server_simulator: runs the unchanged BankServer in a seeded
// simulated world, with faults, and checks every reply against a model.
//
// This entry point is the only place in simulator/ that touches the real
// world: it reads settings, draws a seed when none is given, measures wall
// time and spawns threads. Each run inside is a pure function of its seed.

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "bank/planted_bugs.hpp"
#include "dst_demo/cli.hpp"
#include "plan_file.hpp"
#include "run.hpp"
#include "shrink.hpp"

namespace {

using bank_sim::KnobOverrides;
using bank_sim::Knobs;
using bank_sim::RunResult;

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

struct Settings {
  std::optional<std::uint64_t> seed;
  KnobOverrides overrides;
  std::uint64_t runs = 16;
  std::uint32_t max_parallel = 0;
  bank::LogLevel log_level = bank::LogLevel::off;
  bool check_determinism = false;
  bool print_plan = false;
  std::size_t failure_log_lines = 40;
  bool shrink = true;
  bool isolate = true;  // Each run in a child process, so that a crash ends that run alone.
  std::size_t shrink_budget = bank_sim::shrink_budget_default;
  std::string failures_dir = "simulator_failures";
  std::string save_plan;                  // The first run's plan goes here.
  std::string timeline;                   // The first run's Perfetto trace goes here.
  std::optional<bank_sim::Plans> replay;  // Run this plan instead of drawing one.
  std::string replay_file;
};

// Exit status when a file the user asked for (--save-plan, --trace, a shrunk
// failure) could not be written.
constexpr int output_error_exit = 3;

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

// Why `path` cannot take a file the simulator will write, if it cannot: its
// directory must exist (nothing is created silently) and it must not be one.
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

std::uint64_t run_seed(std::uint64_t initial_seed, std::uint64_t index) {
  // Run 0 replays the seed given; later runs derive from it and their index alone.
  return index == 0 ? initial_seed : sim::mix64(initial_seed + index);
}

std::string format_duration_ms(std::int64_t ms) {
  if (ms < 10'000) return fmt::format("{} ms", ms);
  if (ms < 7'200'000) return fmt::format("{:.1f} s", static_cast<double>(ms) / 1e3);
  if (ms < 172'800'000) return fmt::format("{:.1f} h", static_cast<double>(ms) / 3.6e6);
  return fmt::format("{:.1f} days", static_cast<double>(ms) / 8.64e7);
}

std::string replay_command(const std::string& program, const Settings& settings, std::uint64_t seed) {
  if (settings.replay) return fmt::format("{} --replay {}", program, settings.replay_file);
  std::string command = fmt::format("SIMULATOR_SEED={} SIMULATOR_RUNS=1", seed);
  const auto& o = settings.overrides;
  if (o.duration_steps) command += fmt::format(" SIMULATOR_DURATION={}", *o.duration_steps);
  if (o.step_ms) command += fmt::format(" SIMULATOR_STEP_MULTIPLIER={}", *o.step_ms);
  if (o.epoch_offset_ms) command += fmt::format(" SIMULATOR_EPOCH_OFFSET={}", *o.epoch_offset_ms);
  if (o.banker_count) command += fmt::format(" SIMULATOR_BANKER_COUNT={}", *o.banker_count);
  return command + " " + program;
}

std::string header(std::uint64_t index, std::uint64_t runs, const bank_sim::Plans& plans) {
  const Knobs& k = plans.knobs;
  return fmt::format(
      "run {}/{} seed={}\n"
      "  knobs: duration={} steps, step_multiplier={} ms, epoch_offset={} ms ({}; {}), bankers={}, "
      "interactions/banker={}\n"
      "  parameters: {}\n"
      "  faults: {}; {} faults planned, {} interactions planned\n",
      index + 1, runs, k.seed,
      k.duration_steps == 0 ? std::string("unbounded") : std::to_string(k.duration_steps), k.step_ms,
      k.epoch_offset_ms, bank_sim::format_utc(k.epoch_offset_ms / 1000), k.epoch_offset_reason,
      k.banker_count, k.interactions_per_banker, bank_sim::describe_parameters(k.parameters),
      bank_sim::describe_swarm(k.swarm), bank_sim::count_faults(plans), bank_sim::count_interactions(plans));
}

std::string plan_text(const bank_sim::Plans& plans) {
  std::string out;
  for (std::size_t b = 0; b < plans.bankers.size(); ++b) {
    out += fmt::format("  plan banker{}:", b);
    for (const auto& i : plans.bankers[b].interactions) out += " " + bank_sim::describe_interaction(i) + ";";
    out += "\n";
  }
  out += "  plan faults:";
  for (const auto& f : plans.faults.faults) out += " " + bank_sim::describe_fault(f) + ";";
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
std::string failure_context(const bank_sim::Plans& plans, std::size_t lines_max) {
  bank_sim::RunOptions options;
  options.log_level = bank::LogLevel::debug;
  const RunResult rerun = bank_sim::run_simulation(plans, options);
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

std::string shrink_report(const Settings& settings, const std::string& program, const bank_sim::Plans& plans,
                          const bank_sim::Failure& failure, bool& output_failed) {
  const auto shrunk = bank_sim::shrink(plans, failure.invariant, settings.shrink_budget);
  const std::uint64_t seed = plans.knobs.seed;
  std::string out = fmt::format(
      "  shrunk: {} interactions and faults (of {} bankers) down to {} (of {}) in {} runs{}; the minimal "
      "story:\n",
      bank_sim::plan_size(plans), plans.bankers.size(), bank_sim::plan_size(shrunk.minimal),
      shrunk.minimal.bankers.size(), shrunk.runs,
      shrunk.budget_spent ? " (budget spent)" : ", a fixed point");
  out += bank_sim::tell_story(shrunk.result);
  const std::string base = fmt::format("{}/dst_demo_failure_{}", settings.failures_dir, seed);
  std::string error;
  std::error_code ec;
  std::filesystem::create_directories(settings.failures_dir, ec);
  if (write_file(base + ".plan", bank_sim::format_plan_file(shrunk.minimal), error) &&
      write_file(base + ".trace.json", shrunk.result.timeline_json, error)) {
    out += fmt::format(
        "  minimal plan saved: {}.plan, its timeline: {}.trace.json (open it in ui.perfetto.dev)\n", base,
        base);
    out += fmt::format("  replay the minimal plan: {} --replay {}.plan\n", program, base);
  } else {
    out += "  error: " + error + "\n";
    output_failed = true;
  }
  return out;
}

struct Outcome {
  std::string report;
  bool passed = true;
  std::string invariant;
  std::uint64_t interactions = 0;
  std::uint64_t faults = 0;
  std::int64_t simulated_ms = 0;
  std::uint64_t seed = 0;
  bank::MarkCounts marks{};
  bool output_failed = false;  // A file asked for could not be written.
};

Outcome run_one(const Settings& settings, const std::string& program, std::uint64_t index) {
  const std::uint64_t seed = settings.replay ? settings.replay->knobs.seed : run_seed(*settings.seed, index);
  const bank_sim::Plans plans =
      settings.replay ? *settings.replay
                      : bank_sim::generate_plans(bank_sim::draw_knobs(seed, settings.overrides));
  Outcome outcome;
  outcome.seed = seed;
  outcome.report = header(index, settings.runs, plans);
  if (settings.print_plan) outcome.report += plan_text(plans);
  bank_sim::RunOptions options;
  options.log_level = settings.log_level;
  options.keep_trace = settings.check_determinism;
  options.record_timeline = index == 0 && !settings.timeline.empty();
  if (index == 0 && !settings.save_plan.empty()) {
    std::string error;
    if (write_file(settings.save_plan, bank_sim::format_plan_file(plans), error)) {
      outcome.report += fmt::format("  plan saved: {} (run it with: {} --replay {})\n", settings.save_plan,
                                    program, settings.save_plan);
    } else {
      outcome.report += "  error: --save-plan: " + error + "\n";
      outcome.output_failed = true;
    }
  }
  fmt::format_to_n(
      crash_replay_line, sizeof crash_replay_line - 1,
      "dst_demo_server_simulator: run {} (seed={}) aborted: the bank broke an assertion (above).\n"
      "  replay: {}\n{}",
      index + 1, seed, replay_command(program, settings, seed), '\0');
  const auto wall_start = std::chrono::steady_clock::now();
  RunResult result = bank_sim::run_simulation(plans, options);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  outcome.report += result.log;
  if (options.record_timeline) {
    std::string error;
    if (write_file(settings.timeline, result.timeline_json, error)) {
      outcome.report += fmt::format("  timeline saved: {} (open it in ui.perfetto.dev)\n", settings.timeline);
    } else {
      outcome.report += "  error: --trace: " + error + "\n";
      outcome.output_failed = true;
    }
  }
  if (settings.check_determinism) {
    const RunResult again = bank_sim::run_simulation(plans, options);
    if (again.trace_hash != result.trace_hash || again.trace_lines != result.trace_lines) {
      std::size_t i = 0;
      while (i < result.trace_lines.size() && i < again.trace_lines.size() &&
             result.trace_lines[i] == again.trace_lines[i]) {
        ++i;
      }
      const std::string first = i < result.trace_lines.size() ? result.trace_lines[i] : "<end of trace>";
      const std::string second = i < again.trace_lines.size() ? again.trace_lines[i] : "<end of trace>";
      result.failure =
          bank_sim::Failure{"determinism", "simulator", 0, 0,
                            fmt::format("the same seed ran twice differently: trace hashes {:016x} and "
                                        "{:016x}; first difference at event {}: `{}` vs `{}`",
                                        result.trace_hash, again.trace_hash, i, first, second)};
    } else {
      outcome.report += fmt::format("  determinism: same trace twice ({} events, hash {:016x})\n",
                                    result.trace_lines.size(), result.trace_hash);
    }
  }
  outcome.report += footer(result, wall_s);
  if (!result.passed()) {
    const bool can_shrink = result.failure->invariant != "determinism";
    // The log lines that led up to the failure, unless the run's own log
    // (debug or trace) already showed them; then the shrunk story.
    if (can_shrink && settings.log_level > bank::LogLevel::debug) {
      outcome.report += failure_context(plans, settings.failure_log_lines);
    }
    if (can_shrink && settings.shrink)
      outcome.report += shrink_report(settings, program, plans, *result.failure, outcome.output_failed);
    outcome.report += fmt::format("  replay: {}\n", replay_command(program, settings, seed));
  }
  outcome.passed = result.passed();
  outcome.invariant = result.passed() ? "" : result.failure->invariant;
  outcome.interactions = result.stats.interactions_done;
  outcome.faults = result.stats.faults_injected;
  outcome.simulated_ms = result.simulated_ms;
  outcome.marks = result.marks;
  return outcome;
}

// An Outcome crosses from a child process to its parent as bytes.
void put_u64(std::string& out, std::uint64_t value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
bool get_u64(std::string_view& in, std::uint64_t& value) {
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}
void put_text(std::string& out, const std::string& text) {
  put_u64(out, text.size());
  out += text;
}
bool get_text(std::string_view& in, std::string& text) {
  std::uint64_t size = 0;
  if (!get_u64(in, size) || in.size() < size) return false;
  text.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

std::string encode_outcome(const Outcome& o) {
  std::string out;
  put_u64(out, o.passed ? 1 : 0);
  put_u64(out, o.output_failed ? 1 : 0);
  put_u64(out, o.interactions);
  put_u64(out, o.faults);
  put_u64(out, static_cast<std::uint64_t>(o.simulated_ms));
  put_u64(out, o.seed);
  for (std::uint64_t count : o.marks) put_u64(out, count);
  put_text(out, o.invariant);
  put_text(out, o.report);
  return out;
}

bool decode_outcome(std::string_view in, Outcome& o) {
  std::uint64_t passed = 0;
  std::uint64_t output_failed = 0;
  std::uint64_t simulated_ms = 0;
  if (!get_u64(in, passed) || !get_u64(in, output_failed) || !get_u64(in, o.interactions) ||
      !get_u64(in, o.faults) || !get_u64(in, simulated_ms) || !get_u64(in, o.seed)) {
    return false;
  }
  for (std::uint64_t& count : o.marks) {
    if (!get_u64(in, count)) return false;
  }
  if (!get_text(in, o.invariant) || !get_text(in, o.report) || !in.empty()) {
    return false;
  }
  o.passed = passed == 1;
  o.output_failed = output_failed == 1;
  o.simulated_ms = static_cast<std::int64_t>(simulated_ms);
  return true;
}

// A run in a child process: a crash of the simulated server (a wild pointer,
// an abort) ends that run alone, and the sweep reports it and goes on. The
// parent stays single-threaded while it forks (a fork while another thread
// holds a lock, the allocator's under a sanitizer say, leaves the child
// waiting forever); parallel runs are parallel processes.
struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::uint64_t index = 0;
  std::string bytes;
};

// Starts run `index` in a child process; nullopt when no process could be
// made (the caller then runs it in this process).
std::optional<Child> start_child(const Settings& settings, const std::string& program, std::uint64_t index) {
  int fds[2];
  if (::pipe(fds) != 0) return std::nullopt;
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    ::close(fds[0]);
    const std::string bytes = encode_outcome(run_one(settings, program, index));
    std::string_view left = bytes;
    while (!left.empty()) {
      const ssize_t written = ::write(fds[1], left.data(), left.size());
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) ::_exit(3);
      left.remove_prefix(static_cast<std::size_t>(written));
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  Child child;
  child.pid = pid;
  child.fd = fds[0];
  child.index = index;
  return child;
}

// Reads what a child has sent; true once it has closed its end.
bool read_child(Child& child) {
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(child.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got > 0) {
      child.bytes.append(buffer, static_cast<std::size_t>(got));
      return false;
    }
    return true;
  }
}

// Reaps a child whose pipe has closed and returns its run's outcome.
Outcome finish_child(const Settings& settings, const std::string& program, Child& child) {
  ::close(child.fd);
  int status = 0;
  while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  Outcome outcome;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && decode_outcome(child.bytes, outcome)) return outcome;
  // The child died: report what is known, and how to replay it.
  const std::uint64_t seed =
      settings.replay ? settings.replay->knobs.seed : run_seed(*settings.seed, child.index);
  const bank_sim::Plans plans =
      settings.replay ? *settings.replay
                      : bank_sim::generate_plans(bank_sim::draw_knobs(seed, settings.overrides));
  outcome = Outcome{};
  outcome.seed = seed;
  outcome.passed = false;
  outcome.invariant = "crash";
  const std::string how = WIFSIGNALED(status) ? fmt::format("killed by signal {} ({})", WTERMSIG(status),
                                                            ::strsignal(WTERMSIG(status)))
                                              : fmt::format("exited with status {}", WEXITSTATUS(status));
  outcome.report = header(child.index, settings.runs, plans) +
                   fmt::format(
                       "  verdict: FAIL: invariant 'crash' broken: the run's process {} (its last words are "
                       "on stderr above); not shrunk\n",
                       how) +
                   fmt::format("  replay: {} --no-isolation\n", replay_command(program, settings, seed));
  return outcome;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dst_demo_server_simulator: deterministic simulation testing of the bank. Runs the unchanged bank "
      "server\n"
      "on a seeded simulated network, clock and disk, with bankers, a fault injector (process crashes, "
      "power\n"
      "losses, partitions, clogs, vanished clients, disk errors, corruption, slow disks, clock steps) and a "
      "health\n"
      "checker, and checks every reply against a model. Each run runs in a child process.\n"
      "Each run prints its seed and knobs first, its verdict last; a failure ends with the command that "
      "replays it.\n"
      "Knobs left unset are drawn per run from the run's seed.\n"
      "Exit status: 0 all runs passed; 1 a run failed; 2 a usage error (a bad flag, value, environment "
      "variable or\n"
      "plan file), nothing run; 3 a file asked for (--save-plan, --trace, a shrunk failure) could not be "
      "written.",
      "dst_demo_server_simulator"};
  Settings settings;
  std::string log_level_flag;
  std::int64_t duration = 0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  std::uint32_t bankers = 0;
  std::string seed_text;
  auto* seed_option =
      app.add_option("--seed", seed_text,
                     "Seed of the first run (decimal or 0x hex); unset: drawn at random and printed")
          ->envname("SIMULATOR_SEED");
  auto* duration_option =
      app.add_option("--duration", duration,
                     fmt::format("Steps per run before success is assumed (0: unbounded; "
                                 "default {})",
                                 bank_sim::duration_steps_default))
          ->envname("SIMULATOR_DURATION")
          ->check(CLI::Range(std::int64_t{0}, static_cast<std::int64_t>(bank_sim::duration_steps_max)));
  auto* step_option = app.add_option("--step-multiplier", step,
                                     "Simulated ms per step; unset: drawn per run, mostly 1, sometimes hours")
                          ->envname("SIMULATOR_STEP_MULTIPLIER")
                          ->check(CLI::Range(std::int64_t{1}, bank_sim::step_ms_max));
  auto* epoch_option =
      app.add_option("--epoch-offset", epoch,
                     "Simulated start time in ms since the Unix epoch; unset: drawn per run, often "
                     "just before 2038, 2106 or 2262")
          ->envname("SIMULATOR_EPOCH_OFFSET")
          ->check(CLI::Range(std::int64_t{0}, bank_sim::epoch_offset_ms_limit));
  app.add_option("--runs", settings.runs, "How many runs")
      ->envname("SIMULATOR_RUNS")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--max-parallel", settings.max_parallel,
                 "Runs at once: child processes, or threads with --no-isolation (default: one per core)")
      ->envname("SIMULATOR_MAX_PARALLEL")
      ->check(CLI::Range(1, 1024));
  auto* bankers_option =
      app.add_option("--banker-count", bankers, "Bankers per run; unset: drawn per run (1..15)")
          ->envname("SIMULATOR_BANKER_COUNT")
          ->check(CLI::Range(std::uint32_t{1}, bank_sim::banker_count_max));
  app.add_option("--log-level", log_level_flag,
                 "Actor logs: trace, debug (every request), info (faults, crashes), warn, error, off. Unset: "
                 "SPDLOG_LEVEL, else RUST_LOG, else off (the per-run report only)");
  app.add_flag("--check-determinism", settings.check_determinism,
               "Run each seed twice and compare the full event traces; name the first difference");
  app.add_flag("--print-plan", settings.print_plan, "Print every actor's plan after the knobs");
  app.add_option("--save-plan", settings.save_plan,
                 "Write the first run's knobs and plans to FILE (a readable, versioned text file)");
  app.add_option(
      "--replay", settings.replay_file,
      "Run the plan in FILE (from --save-plan or a shrunk failure), exactly as it ran; ignores the "
      "seed and knob settings");
  app.add_option("--trace", settings.timeline,
                 "Write the first run as Chrome/Perfetto trace JSON to FILE (open it in ui.perfetto.dev)");
  bool no_shrink = false;
  bool no_isolation = false;
  app.add_flag(
      "--no-isolation", no_isolation,
      "Run every run in this process (for a debugger) instead of a child process each; a crash then ends "
      "the sweep");
  app.add_flag(
      "--no-shrink", no_shrink,
      "Do not shrink failures. By default every failing run is shrunk to a minimal plan that fails the "
      "same invariant, printed as a numbered story and saved with its timeline in --failures-dir");
  app.add_option("--shrink-budget", settings.shrink_budget, "Most runs one shrink may spend")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--failures-dir", settings.failures_dir, "Where shrunk failures are saved")
      ->capture_default_str();
  if (const auto exit_code = dst_demo::cli::parse(app, argc, argv)) return *exit_code;
  settings.shrink = !no_shrink;
  settings.isolate = !no_isolation;
  const auto usage_error = [](const std::string& what) {
    std::fprintf(stderr, "dst_demo_server_simulator: %s\n", what.c_str());
    return dst_demo::cli::usage_error_exit;
  };
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--save-plan", settings.save_plan},
        std::pair<const char*, const std::string&>{"--trace", settings.timeline}}) {
    if (path.empty()) continue;
    if (const auto problem = output_path_problem(path))
      return usage_error(fmt::format("{}: {}", flag, *problem));
  }
  if (!settings.replay_file.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(settings.replay_file, ec)) {
      return usage_error(
          fmt::format("--replay: '{}' is a directory; name a plan file (a .plan from --save-plan or "
                      "a shrunk failure)",
                      settings.replay_file));
    }
    std::ifstream in(settings.replay_file, std::ios::binary);
    if (!in)
      return usage_error(
          fmt::format("--replay: cannot read '{}': {}", settings.replay_file, std::strerror(errno)));
    std::string text;
    try {
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::exception& e) {
      return usage_error(fmt::format("--replay: cannot read '{}': {}", settings.replay_file, e.what()));
    }
    if (in.bad()) return usage_error(fmt::format("--replay: cannot read '{}'", settings.replay_file));
    auto parsed = bank_sim::parse_plan_file(text, settings.replay_file);
    if (!parsed) return usage_error(fmt::format("--replay: {}", parsed.error().message));
    settings.replay = std::move(*parsed);
    settings.runs = 1;
    seed_text = std::to_string(settings.replay->knobs.seed);
  }

  if (!seed_text.empty()) {
    // Named as the user set it; "-1" is refused, not wrapped to 2^64 - 1.
    const std::string setting =
        settings.replay || dst_demo::cli::given_on_command_line(*seed_option, argc, argv)
            ? "--seed " + seed_text
            : "SIMULATOR_SEED=" + seed_text;
    bool ok = seed_text.front() >= '0' && seed_text.front() <= '9';
    try {
      std::size_t used = 0;
      if (ok) settings.seed = std::stoull(seed_text, &used, 0);
      ok = ok && used == seed_text.size();
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) {
      return usage_error(
          fmt::format("{}: '{}' is not a seed; expected a number from 0 to 18446744073709551615 "
                      "(decimal, or hex with 0x)",
                      setting, seed_text));
    }
  } else {
    std::random_device device;
    settings.seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }
  if (duration_option->count() > 0 || std::getenv("SIMULATOR_DURATION"))
    settings.overrides.duration_steps = duration;
  if (step_option->count() > 0 || std::getenv("SIMULATOR_STEP_MULTIPLIER")) settings.overrides.step_ms = step;
  if (epoch_option->count() > 0 || std::getenv("SIMULATOR_EPOCH_OFFSET"))
    settings.overrides.epoch_offset_ms = epoch;
  if (bankers_option->count() > 0 || std::getenv("SIMULATOR_BANKER_COUNT"))
    settings.overrides.banker_count = bankers;
  const auto log_level = bank::resolve_log_level({{"--log-level", log_level_flag.c_str()},
                                                  {"SPDLOG_LEVEL", std::getenv("SPDLOG_LEVEL")},
                                                  {"RUST_LOG", std::getenv("RUST_LOG")}},
                                                 bank::LogLevel::off);
  if (!log_level.ok) {
    std::fprintf(stderr,
                 "dst_demo_server_simulator: %s has an unknown log level; use trace, debug, info, warn, "
                 "error or off\n",
                 log_level.source);
    return 2;
  }
  settings.log_level = log_level.level;
  if (settings.max_parallel == 0) settings.max_parallel = std::max(1u, std::thread::hardware_concurrency());
  const std::uint32_t threads =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(settings.max_parallel, settings.runs));
  const std::string program = argv[0];
  ::signal(SIGABRT, report_abort);

  const std::string planted = bank::planted_bugs::names();
  std::printf("dst_demo_server_simulator: seed=%llu runs=%llu threads=%u%s\n",
              static_cast<unsigned long long>(*settings.seed), static_cast<unsigned long long>(settings.runs),
              threads,
              planted.empty() ? "" : fmt::format(" (bank built with the PLANTED BUG '{}')", planted).c_str());
  std::fflush(stdout);

  // Runs are taken by index; reports are printed in index order as they finish.
  std::vector<std::optional<Outcome>> outcomes(settings.runs);
  std::uint64_t printed = 0;
  std::uint64_t finished = 0;
  std::uint64_t failed = 0;
  const bool progress = ::isatty(STDERR_FILENO) != 0;
  const auto wall_start = std::chrono::steady_clock::now();
  auto record = [&](std::uint64_t index, Outcome outcome) {
    ++finished;
    failed += outcome.passed ? 0 : 1;
    outcomes[index] = std::move(outcome);
    if (progress) std::fprintf(stderr, "\r\033[K");
    while (printed < settings.runs && outcomes[printed]) {
      std::fputs(outcomes[printed]->report.c_str(), stdout);
      ++printed;
    }
    std::fflush(stdout);
    if (progress) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
      std::fprintf(stderr, "[%llu/%llu runs] %llu passed, %llu failed, %.1f s",
                   static_cast<unsigned long long>(finished), static_cast<unsigned long long>(settings.runs),
                   static_cast<unsigned long long>(finished - failed),
                   static_cast<unsigned long long>(failed), elapsed);
      std::fflush(stderr);
    }
  };
  if (settings.isolate) {
    // Up to `threads` child processes at once, each one run; this process
    // only forks, waits and prints.
    std::vector<Child> running;
    std::uint64_t next_index = 0;
    while (next_index < settings.runs || !running.empty()) {
      while (running.size() < threads && next_index < settings.runs) {
        const std::uint64_t index = next_index++;
        if (auto child = start_child(settings, program, index)) {
          running.push_back(std::move(*child));
        } else {
          record(index, run_one(settings, program, index));
        }
      }
      if (running.empty()) continue;
      std::vector<pollfd> watched;
      for (const Child& child : running) watched.push_back(pollfd{child.fd, POLLIN, 0});
      if (::poll(watched.data(), watched.size(), -1) < 0) {
        if (errno == EINTR) continue;
        std::perror("dst_demo_server_simulator: poll");
        return 2;
      }
      for (std::size_t i = watched.size(); i-- > 0;) {
        if (watched[i].revents == 0 || !read_child(running[i])) continue;
        Child done = std::move(running[i]);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        record(done.index, finish_child(settings, program, done));
      }
    }
  } else {
    std::mutex mutex;
    std::atomic<std::uint64_t> next_index{0};
    auto worker = [&] {
      for (;;) {
        const std::uint64_t index = next_index.fetch_add(1);
        if (index >= settings.runs) return;
        Outcome outcome = run_one(settings, program, index);
        std::lock_guard lock(mutex);
        record(index, std::move(outcome));
      }
    };
    std::vector<std::thread> pool;
    for (std::uint32_t i = 0; i < threads; ++i) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (progress) std::fprintf(stderr, "\r\033[K");

  // The summary across runs.
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  std::uint64_t interactions = 0;
  std::uint64_t faults = 0;
  std::int64_t simulated_ms = 0;
  std::map<std::string, std::vector<std::uint64_t>> failures_by_invariant;
  for (const auto& o : outcomes) {
    interactions += o->interactions;
    faults += o->faults;
    simulated_ms += o->simulated_ms;
    if (!o->passed) failures_by_invariant[o->invariant].push_back(o->seed);
  }
  std::printf(
      "summary: %llu run%s, %llu passed, %llu failed; %llu interactions, %llu faults, %s simulated in %.2f s "
      "wall\n",
      static_cast<unsigned long long>(settings.runs), settings.runs == 1 ? "" : "s",
      static_cast<unsigned long long>(settings.runs - failed), static_cast<unsigned long long>(failed),
      static_cast<unsigned long long>(interactions), static_cast<unsigned long long>(faults),
      format_duration_ms(simulated_ms).c_str(), wall_s);
  for (const auto& [invariant, seeds] : failures_by_invariant) {
    std::printf("  '%s' failed in %zu of %llu run%s; replay the first: %s\n", invariant.c_str(), seeds.size(),
                static_cast<unsigned long long>(settings.runs), settings.runs == 1 ? "" : "s",
                replay_command(program, settings, seeds.front()).c_str());
  }
  // Coverage: which of the server's rare paths the sweep reached, in how many runs.
  std::array<std::uint64_t, bank::mark_count> runs_reaching{};
  for (const auto& o : outcomes) {
    for (std::size_t m = 0; m < bank::mark_count; ++m) runs_reaching[m] += o->marks[m] > 0 ? 1 : 0;
  }
  std::string reached;
  std::string missed;
  for (std::size_t m = 0; m < bank::mark_count; ++m) {
    const std::string_view name = bank::describe(static_cast<bank::Mark>(m));
    if (runs_reaching[m] == 0) {
      missed += fmt::format("{}{}", missed.empty() ? "" : ", ", name);
    } else {
      reached += fmt::format("{}{} {}", reached.empty() ? "" : ", ", name, runs_reaching[m]);
    }
  }
  const std::size_t reached_count = static_cast<std::size_t>(
      std::count_if(runs_reaching.begin(), runs_reaching.end(), [](std::uint64_t n) { return n > 0; }));
  std::printf("  coverage: %zu of %zu marks reached (runs reaching each: %s)\n", reached_count,
              bank::mark_count, reached.empty() ? "none" : reached.c_str());
  if (!missed.empty()) std::printf("  never reached: %s\n", missed.c_str());
  if (failed == 0 && settings.runs > 1) {
    std::printf(
        "  %llu clean runs in a row: a bug that fails one run in N has about a %.0f%% chance of hiding "
        "from a sweep this size when N = %llu\n",
        static_cast<unsigned long long>(settings.runs),
        100.0 * std::pow(1.0 - 1.0 / static_cast<double>(settings.runs), static_cast<double>(settings.runs)),
        static_cast<unsigned long long>(settings.runs));
  }
  if (failed > 0) return 1;
  const bool output_failed =
      std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o->output_failed; });
  if (output_failed) {
    std::fprintf(stderr,
                 "dst_demo_server_simulator: a file asked for could not be written (see 'error:' above)\n");
    return output_error_exit;
  }
  return 0;
}
