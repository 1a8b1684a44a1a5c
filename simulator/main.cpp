// dst_demo_server_simulator: runs the unchanged BankServer in a seeded
// simulated world, with faults, and checks every reply against a model.
//
// This entry point reads settings (flags, environment variables, a plan
// file), draws a seed when none is given, and starts a sweep (sweep/) or a
// merge of sweeps' records. Each run inside is a pure function of its seed.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "debug/tools.hpp"
#include "dst_demo/cli.hpp"
#include "plan_file.hpp"
#include "sweep/run_one.hpp"
#include "sweep/settings.hpp"
#include "sweep/sweep.hpp"

namespace {

using bank_sim::sweep::Settings;

constexpr const char* description =
    "dst_demo_server_simulator: deterministic simulation testing of the bank. Runs the unchanged bank "
    "server\n"
    "on a seeded simulated network, clock and disk, with bankers, a fault injector (process crashes, power\n"
    "losses, partitions, clogs, vanished clients, disk errors, corruption, slow disks, clock steps) and a "
    "health\n"
    "checker, and checks every reply against a model. Each run runs in a child process.\n"
    "Each run prints its seed and knobs first, its verdict last; a failure ends with the command that "
    "replays it.\n"
    "Knobs left unset are drawn per run from the run's seed.\n"
    "Exit status: 0 all runs passed; 1 a run failed; 2 a usage error (a bad flag, value, environment "
    "variable or\n"
    "plan file), nothing run; 3 no run failed, but a file asked for (--save-plan, --trace, --events,\n"
    "--report-json) could not be written (a failure whose minimal plan cannot be saved exits 1 and says "
    "so);\n"
    "130 a sweep ended by Ctrl-C (SIGINT) with no failing run, after its summary.";

// The wall clock and the threads the sweep driver may use: only here.
bank_sim::sweep::RealWorld real_world() {
  return {
      .wall_seconds =
          [] {
            return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
          },
      .run_on_threads =
          [](std::uint32_t threads, const std::function<void()>& work) {
            std::vector<std::thread> pool;
            for (std::uint32_t i = 0; i < threads; ++i) pool.emplace_back(work);
            for (auto& thread : pool) thread.join();
          }};
}

int usage_error(const std::string& what) {
  std::fprintf(stderr, "dst_demo_server_simulator: %s\n", what.c_str());
  return dst_demo::cli::usage_error_exit;
}

// The raw text of the settings that need more than CLI11's checks.
struct Texts {
  std::string log_level;
  std::string seed;
  std::string shard;
  std::string time_budget;
  std::string run_timeout;
  std::vector<std::string> merge;
  std::vector<std::string> diff;
  std::string likelihood;
  std::string chart;
  std::uint32_t branches = bank_sim::debug::likelihood_branches_default;
  std::optional<std::uint64_t> dump_at;
  bool debug = false;
  std::int64_t duration = 0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  std::uint32_t bankers = 0;
  bool no_shrink = false;
  bool shrink = false;
  bool quiet = false;
  bool verbose = false;
  bool no_isolation = false;
  CLI::Option* seed_option = nullptr;
  CLI::Option* runs_option = nullptr;
  CLI::Option* duration_option = nullptr;
  CLI::Option* step_option = nullptr;
  CLI::Option* epoch_option = nullptr;
  CLI::Option* bankers_option = nullptr;
};

void add_knob_options(CLI::App& app, Settings& settings, Texts& t) {
  t.seed_option =
      app.add_option("--seed", t.seed,
                     "Seed of the first run (decimal or 0x hex); unset: drawn at random and printed")
          ->envname("SIMULATOR_SEED");
  t.duration_option =
      app.add_option("--duration", t.duration,
                     fmt::format("Steps per run before success is assumed (0: unbounded; default {})",
                                 bank_sim::duration_steps_default))
          ->envname("SIMULATOR_DURATION")
          ->check(CLI::Range(std::int64_t{0}, static_cast<std::int64_t>(bank_sim::duration_steps_max)));
  t.step_option = app.add_option("--step-multiplier", t.step,
                                 "Simulated ms per step; unset: drawn per run, mostly 1, sometimes hours")
                      ->envname("SIMULATOR_STEP_MULTIPLIER")
                      ->check(CLI::Range(std::int64_t{1}, bank_sim::step_ms_max));
  t.epoch_option =
      app.add_option("--epoch-offset", t.epoch,
                     "Simulated start time in ms since the Unix epoch; unset: drawn per run, often "
                     "just before 2038, 2106 or 2262")
          ->envname("SIMULATOR_EPOCH_OFFSET")
          ->check(CLI::Range(std::int64_t{0}, bank_sim::epoch_offset_ms_limit));
  t.runs_option = app.add_option("--runs", settings.runs, "How many runs (a campaign: the most it may run)")
                      ->envname("SIMULATOR_RUNS")
                      ->check(CLI::Range(std::uint64_t{1}, bank_sim::sweep::runs_max))
                      ->capture_default_str();
  app.add_option("--max-parallel", settings.max_parallel,
                 "Runs at once: child processes, or threads with --no-isolation (default: one per core)")
      ->envname("SIMULATOR_MAX_PARALLEL")
      ->check(CLI::Range(1, 1024));
  t.bankers_option =
      app.add_option("--banker-count", t.bankers, "Bankers per run; unset: drawn per run (1..15)")
          ->envname("SIMULATOR_BANKER_COUNT")
          ->check(CLI::Range(std::uint32_t{1}, bank_sim::banker_count_max));
  app.add_option("--log-level", t.log_level,
                 "Actor logs: trace, debug (every request), info (faults, crashes), warn, error, off. Unset: "
                 "SPDLOG_LEVEL, else RUST_LOG, else off (the per-run report only)");
}

void add_output_options(CLI::App& app, Settings& settings, Texts& t) {
  app.add_flag("--check-determinism", settings.check_determinism,
               "Run each seed twice and compare the full event traces; name the first difference");
  app.add_flag("--hash-event-log", settings.hash_event_log,
               "Fold every run's whole event log (events and every actor's lines), not only its events, into "
               "the trace_hash of its --report-json record: equal hashes of a seed on two builds mean they "
               "behaved alike (bench/mutation)");
  app.add_flag("--print-plan", settings.print_plan, "Print every actor's plan after the knobs");
  auto* quiet = app.add_flag("--quiet", t.quiet,
                             "Print the reports of failing runs only, then the summary (the default for a "
                             "sweep of more than one run)");
  app.add_flag("--verbose", t.verbose,
               "Print every run's report, passing or failing (the default for a single run, a replay, or "
               "runs with actor logs)")
      ->excludes(quiet);
  app.add_option("--save-plan", settings.save_plan,
                 "Write the first run's knobs and plans to FILE (a readable, versioned text file)");
  app.add_option(
      "--replay", settings.replay_file,
      "Run the plan in FILE (from --save-plan or a shrunk failure), exactly as it ran; ignores the "
      "seed and knob settings");
  app.add_option("--trace", settings.timeline,
                 "Write the first run as Chrome/Perfetto trace JSON to FILE (open it in ui.perfetto.dev)");
  app.add_option("--report-json", settings.report_json,
                 "Write one JSON object per run (seed, knobs, fault kinds, verdict, invariant, steps, times, "
                 "coverage marks, shrunk story) and one for the summary to FILE, a line each")
      ->envname("SIMULATOR_REPORT_JSON");
  app.add_option(
         "--merge", t.merge,
         "Run nothing: read the --report-json FILEs of shards or sweeps, print their combined summary "
         "(failures grouped by invariant and shrunk story), and with --report-json write them as one")
      ->expected(1, -1);
  app.add_flag(
      "--no-isolation", t.no_isolation,
      "Run every run in this process (for a debugger) instead of a child process each; a crash then ends "
      "the sweep");
  auto* no_shrink = app.add_flag(
      "--no-shrink", t.no_shrink,
      "Do not shrink failures. By default every failing run of a sweep is shrunk to a minimal plan that "
      "fails the same invariant, printed as a numbered story and saved with its timeline in --failures-dir");
  app.add_flag("--shrink", t.shrink,
               "With --replay: shrink the plan again if it fails (a replay runs the plan as it is by "
               "default, and the file replayed is never overwritten)")
      ->excludes(no_shrink);
  app.add_option("--shrink-budget", settings.shrink_budget, "Most runs one shrink may spend")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--failures-dir", settings.failures_dir, "Where shrunk failures are saved")
      ->capture_default_str();
}

void add_debug_options(CLI::App& app, Settings& settings, Texts& t) {
  app.add_flag(
      "--debug", t.debug,
      "Open the time-travel debugger on the plan of --replay FILE (or of the first run of --seed N): step, "
      "back, goto, break, show, branch, save-plan; commands from a terminal or a pipe ('help' lists them)");
  app.add_option(
      "--dump-at", t.dump_at,
      "Print the debugger's view of everything (clock, ledger, journal, connections, bankers, model, "
      "events due) at simulated step STEP of --replay FILE or --seed N, and exit");
  app.add_option(
      "--likelihood", t.likelihood,
      "For points along the run of the plan in FILE, branch --branches futures from each and report the "
      "fraction that fail, a line per point and an SVG chart (--chart)");
  app.add_option("--branches", t.branches, "Futures drawn from each point of --likelihood")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option(
      "--chart", t.chart,
      "Where --likelihood writes its SVG chart (default: NAME.likelihood.svg in the current directory, "
      "for a plan FILE named NAME.plan: never beside the plan)");
  app.add_option(
         "--diff", t.diff,
         "Compare two runs, each a plan FILE (run by this build) or an event log (--events, of any build), "
         "and name the first event where they differ")
      ->expected(2);
  app.add_option("--events", settings.events_file,
                 "Write the first run's event log (every event and actor line) to FILE, for --diff");
}

void add_campaign_options(CLI::App& app, Settings& settings, Texts& t) {
  app.add_option(
         "--shard", t.shard,
         "I/N: run shard I (0..N-1) of N, the runs whose index is I modulo N; N machines together run "
         "the sweep one would. Also from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or "
         "JOB_COMPLETION_INDEX (Kubernetes) with SIMULATOR_SHARD_COUNT")
      ->envname("SIMULATOR_SHARD");
  app.add_option("--time-budget", t.time_budget,
                 "Start runs until this much wall time has passed (90s, 15m, 8h, 1h30m; a number alone is "
                 "seconds); without --runs, as many as fit")
      ->envname("SIMULATOR_TIME_BUDGET");
  app.add_option(
         "--run-timeout", t.run_timeout,
         "Kill a run still going after this much wall time and report it as a hang (an endless loop "
         "in the server: a run takes milliseconds); default 30s; a failing run's shrink gets 20 times "
         "as long. Needs process isolation")
      ->envname("SIMULATOR_RUN_TIMEOUT");
  app.add_option("--until-failures", settings.until_failures,
                 "Start no run once this many runs have failed; without --runs, as many as it takes")
      ->envname("SIMULATOR_UNTIL_FAILURES")
      ->check(CLI::Range(std::uint64_t{1}, bank_sim::sweep::runs_max));
}

// "90", "90s", "15m", "8h", "2d", "1h30m", "1.5h" in seconds; nullopt if not a duration above zero.
std::optional<double> parse_duration_s(const std::string& text) {
  double total = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t used = 0;
    double value = 0;
    if (!std::isdigit(static_cast<unsigned char>(text[at]))) return std::nullopt;
    try {
      value = std::stod(text.substr(at), &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    at += used;
    double unit = 1;
    if (at < text.size()) {
      switch (text[at]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        default:
          return std::nullopt;
      }
      ++at;
    } else if (total > 0) {
      return std::nullopt;  // "1h30": a number without a unit only alone.
    }
    total += value * unit;
  }
  if (!(total > 0) || !std::isfinite(total)) return std::nullopt;
  return total;
}

// A decimal count; false if `text` is not one.
bool parse_count(const char* text, std::uint64_t& value) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtoull(text, &end, 10);
  return errno == 0 && *end == '\0';
}

// The shard from --shard (or SIMULATOR_SHARD), else from a job array's
// index variables; an error message when what was set is not a shard.
std::optional<std::string> read_shard(const Texts& t, Settings& settings) {
  auto& shard = settings.shard;
  if (!t.shard.empty()) {
    const auto slash = t.shard.find('/');
    std::uint64_t index = 0;
    std::uint64_t count = 0;
    if (slash == std::string::npos || !parse_count(t.shard.substr(0, slash).c_str(), index) ||
        !parse_count(t.shard.c_str() + slash + 1, count) || count == 0 ||
        count > bank_sim::sweep::shard_count_max || index >= count) {
      return fmt::format("--shard: '{}' is not a shard; expected I/N with 0 <= I < N <= {} (like 0/4)",
                         t.shard, bank_sim::sweep::shard_count_max);
    }
    shard = {index, count, "--shard"};
    return std::nullopt;
  }
  const auto from_job = [&](const char* index_name, const char* count_name,
                            const char* min_name) -> std::optional<std::string> {
    const char* index_text = std::getenv(index_name);
    const char* count_text = std::getenv(count_name);
    if (index_text == nullptr || count_text == nullptr) return std::nullopt;
    const char* min_text = min_name != nullptr ? std::getenv(min_name) : nullptr;
    std::uint64_t index = 0;
    std::uint64_t count = 0;
    std::uint64_t min = 0;
    if (!parse_count(index_text, index) || !parse_count(count_text, count) ||
        (min_text != nullptr && !parse_count(min_text, min)) || index < min || count == 0 ||
        count > bank_sim::sweep::shard_count_max || index - min >= count) {
      return fmt::format("{}={} with {}={} is not a shard (expected an index from {} below the count)",
                         index_name, index_text, count_name, count_text,
                         min_text != nullptr ? min_name : "0");
    }
    shard = {index - min, count, index_name};
    return std::nullopt;
  };
  if (auto problem = from_job("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")) {
    return problem;
  }
  if (shard.count > 1) return std::nullopt;
  return from_job("JOB_COMPLETION_INDEX", "SIMULATOR_SHARD_COUNT", nullptr);
}

std::optional<std::string> read_replay(Settings& settings, Texts& t) {
  if (settings.replay_file.empty()) return std::nullopt;
  const char* flag = t.likelihood.empty() ? "--replay" : "--likelihood";
  std::error_code ec;
  if (std::filesystem::is_directory(settings.replay_file, ec)) {
    return fmt::format(
        "{}: '{}' is a directory; name a plan file (a .plan from --save-plan or a shrunk failure)", flag,
        settings.replay_file);
  }
  std::ifstream in(settings.replay_file, std::ios::binary);
  if (!in) return fmt::format("{}: cannot read '{}': {}", flag, settings.replay_file, std::strerror(errno));
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    return fmt::format("{}: cannot read '{}': {}", flag, settings.replay_file, e.what());
  }
  if (in.bad()) return fmt::format("{}: cannot read '{}'", flag, settings.replay_file);
  auto parsed = bank_sim::parse_plan_file(text, settings.replay_file);
  if (!parsed) return fmt::format("{}: {}", flag, parsed.error().message);
  settings.replay = std::move(*parsed);
  settings.runs = 1;
  t.seed = std::to_string(settings.replay->knobs.seed);
  return std::nullopt;
}

std::optional<std::string> read_seed(Settings& settings, const Texts& t, int argc, char** argv) {
  if (t.seed.empty()) {
    std::random_device device;
    settings.seed = (static_cast<std::uint64_t>(device()) << 32) ^ device();
    return std::nullopt;
  }
  // Named as the user set it; "-1" is refused, not wrapped to 2^64 - 1.
  const std::string setting =
      settings.replay || dst_demo::cli::given_on_command_line(*t.seed_option, argc, argv)
          ? "--seed " + t.seed
          : "SIMULATOR_SEED=" + t.seed;
  bool ok = t.seed.front() >= '0' && t.seed.front() <= '9';
  try {
    std::size_t used = 0;
    if (ok) settings.seed = std::stoull(t.seed, &used, 0);
    ok = ok && used == t.seed.size();
  } catch (const std::exception&) {
    ok = false;
  }
  if (ok) return std::nullopt;
  return fmt::format(
      "{}: '{}' is not a seed; expected a number from 0 to 18446744073709551615 (decimal, or hex with 0x)",
      setting, t.seed);
}

// Campaigns, shards and the knobs a user set; an error message if they do not fit together.
std::optional<std::string> read_sweep(Settings& settings, const Texts& t, bool seed_given) {
  if (auto problem = read_shard(t, settings)) return problem;
  if (!t.time_budget.empty()) {
    settings.time_budget_s = parse_duration_s(t.time_budget);
    if (!settings.time_budget_s) {
      return fmt::format(
          "--time-budget: '{}' is not a duration; expected a time above zero like 90s, 15m, 8h "
          "or 1h30m",
          t.time_budget);
    }
  }
  if (!t.run_timeout.empty()) {
    const auto timeout_s = parse_duration_s(t.run_timeout);
    if (!timeout_s) {
      return fmt::format("--run-timeout: '{}' is not a duration; expected a time above zero like 30s or 5m",
                         t.run_timeout);
    }
    settings.run_timeout_s = *timeout_s;
  }
  const bool campaign = settings.time_budget_s || settings.until_failures;
  if (settings.replay && (campaign || settings.shard.count > 1)) {
    return "--replay runs one plan once; --shard, --time-budget and --until-failures do not apply to it";
  }
  if (settings.shard.count > 1 && !seed_given) {
    return fmt::format(
        "shard {}/{} (from {}) needs a seed (--seed or SIMULATOR_SEED): every shard must take "
        "its part of the same seed space",
        settings.shard.index, settings.shard.count, settings.shard.source);
  }
  if (campaign && t.runs_option->count() == 0 && !std::getenv("SIMULATOR_RUNS")) {
    settings.runs = bank_sim::sweep::runs_max;
    settings.runs_bounded = false;
  }
  auto& o = settings.overrides;
  if (t.duration_option->count() > 0 || std::getenv("SIMULATOR_DURATION")) o.duration_steps = t.duration;
  if (t.step_option->count() > 0 || std::getenv("SIMULATOR_STEP_MULTIPLIER")) o.step_ms = t.step;
  if (t.epoch_option->count() > 0 || std::getenv("SIMULATOR_EPOCH_OFFSET")) o.epoch_offset_ms = t.epoch;
  if (t.bankers_option->count() > 0 || std::getenv("SIMULATOR_BANKER_COUNT")) o.banker_count = t.bankers;
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{description, "dst_demo_server_simulator"};
  Settings settings;
  Texts t;
  add_knob_options(app, settings, t);
  add_output_options(app, settings, t);
  add_campaign_options(app, settings, t);
  add_debug_options(app, settings, t);
  if (const auto exit_code = dst_demo::cli::parse(app, argc, argv)) return *exit_code;
  settings.program = argv[0];
  settings.real = real_world();
  settings.isolate = !t.no_isolation;
  for (const auto& [flag, path] :
       {std::pair<const char*, const std::string&>{"--save-plan", settings.save_plan},
        std::pair<const char*, const std::string&>{"--trace", settings.timeline},
        std::pair<const char*, const std::string&>{"--report-json", settings.report_json}}) {
    if (path.empty()) continue;
    if (const auto problem = bank_sim::sweep::output_path_problem(path)) {
      return usage_error(fmt::format("{}: {}", flag, *problem));
    }
  }
  if (!t.merge.empty()) return bank_sim::sweep::merge_reports(t.merge, settings.report_json);
  if (!t.diff.empty()) return bank_sim::debug::diff(t.diff[0], t.diff[1]);
  if (!t.likelihood.empty()) {
    if (!settings.replay_file.empty())
      return usage_error("--likelihood takes its plan file itself; drop --replay");
    settings.replay_file = t.likelihood;
    // In the current directory: a plan may sit in a source tree or a read-only place.
    if (t.chart.empty()) t.chart = std::filesystem::path(t.likelihood).stem().string() + ".likelihood.svg";
    if (const auto problem = bank_sim::sweep::output_path_problem(t.chart)) {
      return usage_error(fmt::format("--chart: {}", *problem));
    }
  }
  if (auto problem = read_replay(settings, t)) return usage_error(*problem);
  // A sweep shrinks its failures; a replay runs its plan as it is unless asked.
  settings.shrink = settings.replay ? t.shrink : !t.no_shrink;
  const bool seed_given = !t.seed.empty();
  if (auto problem = read_seed(settings, t, argc, argv)) return usage_error(*problem);
  if (auto problem = read_sweep(settings, t, seed_given)) return usage_error(*problem);
  const auto log_level = bank::resolve_log_level({{"--log-level", t.log_level.c_str()},
                                                  {"SPDLOG_LEVEL", std::getenv("SPDLOG_LEVEL")},
                                                  {"RUST_LOG", std::getenv("RUST_LOG")}},
                                                 bank::LogLevel::off);
  if (!log_level.ok) {
    return usage_error(fmt::format("{} has an unknown log level; use trace, debug, info, warn, error or off",
                                   log_level.source));
  }
  settings.log_level = log_level.level;
  // A sweep prints the reports of its failures and a progress line; one run
  // (a replay, --runs 1), or runs with actor logs asked for, print every report.
  const bool one_run = settings.runs_bounded && settings.runs == 1;
  settings.quiet = t.quiet || (!t.verbose && !one_run && settings.log_level == bank::LogLevel::off);
  if (!t.likelihood.empty()) return bank_sim::debug::likelihood(*settings.replay, t.branches, t.chart);
  if (t.debug || t.dump_at) {
    const auto plans = bank_sim::sweep::plans_of_run(settings, 0);
    if (t.dump_at) return bank_sim::debug::dump_at(plans, *t.dump_at);
    return bank_sim::debug::run_prompt(
        plans, settings.replay ? fmt::format("{} (seed {})", settings.replay_file, plans.knobs.seed)
                               : fmt::format("seed {} (a sweep's first run)", *settings.seed));
  }
  if (settings.max_parallel == 0) settings.max_parallel = std::max(1u, std::thread::hardware_concurrency());
  return bank_sim::sweep::run_sweep(settings);
}
